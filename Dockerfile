# The docker driver's sandbox image, for machines that can pull from a registry. Without
# one, `npm run sandbox:image` (scripts/sandbox-image.mjs) builds the same layout from this
# machine's Node: that is what the tests and CI use. Build from a checkout after
# `npm ci && npm run build` (node_modules and the dist folders are copied as they are):
#
#   docker build -t cutroom-runtime:$(node -p "require('./package.json').version") .
#
# The driver runs /usr/bin/node /opt/cutroom/packages/runtime/dist/main.js as a non-root
# user it picks, with a read-only root, no network and its folders bound under /sandbox.
# Keep Node's major version the same as the checkout's (native packages were installed for it).
FROM node:20-bookworm-slim

# Chromium and fonts, so renders can run in a sandbox too. /usr/bin/node is where the driver
# looks (the official image has it in /usr/local/bin).
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium fonts-liberation fontconfig \
 && rm -rf /var/lib/apt/lists/* \
 && ln -sf /usr/local/bin/node /usr/bin/node \
 && groupadd --gid 10001 sandbox \
 && useradd --uid 10001 --gid 10001 --home-dir /sandbox/home --shell /usr/sbin/nologin --no-create-home sandbox \
 && mkdir -p /sandbox/workspace /sandbox/agent /sandbox/home /sandbox/vite /sandbox/sock /cache/vite-deps

# The built app. .dockerignore leaves out sources, tests and the packages a sandbox never
# loads (build, lint and test tools, the server's embedded database).
WORKDIR /opt/cutroom
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY packages/ packages/
COPY apps/server/package.json apps/server/tsconfig.json apps/server/
COPY apps/server/dist/ apps/server/dist/
COPY node_modules/ node_modules/

LABEL cutroom.image=sandbox
ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_ENV=development
USER 10001:10001
WORKDIR /sandbox
CMD ["/usr/bin/node", "/opt/cutroom/packages/runtime/dist/main.js"]

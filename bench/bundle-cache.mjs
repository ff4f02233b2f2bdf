// `npm run bench:bundle-cache` (after `npm run build`): how much disk N new projects add to
// the render bundle cache. Each new project renders its thumbnail, and a render keeps the
// bundle of the version it rendered (DATA_DIR/cache/bundles). Creates BENCH_PROJECTS (20)
// projects for one user, waits for every thumbnail, then measures the cache (allocated
// blocks, as `du` counts them) and counts its bundles and how many renders built one.
//
// BENCH_SERVER=/path/to/apps/server/dist/main.js runs another build (an older checkout's)
// with the same steps, to compare.
import { readdir, lstat, rm } from 'node:fs/promises';
import path from 'node:path';
import { signUp, startCutroom } from './lib.mjs';

const PROJECTS = Number(process.env.BENCH_PROJECTS ?? 20);
const entry = process.env.BENCH_SERVER;

async function diskBytes(dir) {
  let total = 0;
  for (const item of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, item.name);
    if (item.isDirectory()) total += await diskBytes(full);
    total += (await lstat(full)).blocks * 512;
  }
  return total;
}

/** Bundle folders: `<tree>/` now, `<projectId>/<version>/` in builds before the shared cache. */
async function bundleFolders(dir) {
  const found = [];
  for (const name of await readdir(dir).catch(() => [])) {
    if (/^[0-9a-f]{40}$/.test(name)) found.push(name);
    else for (const version of await readdir(path.join(dir, name)).catch(() => [])) found.push(`${name}/${version}`);
  }
  return found;
}

const server = await startCutroom({ EXPORT_CONCURRENCY: '1' }, entry ? { entry } : {});
try {
  const account = await signUp(server.baseUrl);
  const connection = await account.connect();
  const ready = new Set();
  connection.socket.on('message', (data) => {
    const message = JSON.parse(String(data));
    if (message.type === 'thumbnail:ready') ready.add(message.projectId);
  });
  const bundles = path.join(server.dataDir, 'cache', 'bundles');
  const before = await diskBytes(bundles);
  const started = performance.now();
  const ids = [];
  for (let index = 0; index < PROJECTS; index++) ids.push(await account.createProject(`Bench ${index + 1}`));
  while (!ids.every((id) => ready.has(id))) {
    if (performance.now() - started > 30 * 60_000) throw new Error(`only ${ready.size} of ${PROJECTS} thumbnails after 30 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const seconds = (performance.now() - started) / 1000;
  const after = await diskBytes(bundles);
  const built = server.log.filter((line) => line.msg === 'render bundle ready' && line.cached === false).length;
  const result = {
    server: entry ?? 'this checkout',
    projects: PROJECTS,
    cacheBytesAdded: after - before,
    cacheMiB: Math.round(((after - before) / 1024 / 1024) * 10) / 10,
    bundleFolders: (await bundleFolders(bundles)).length,
    bundlesBuilt: built,
    secondsUntilEveryThumbnail: Math.round(seconds),
  };
  console.log(JSON.stringify(result, null, 2));
  connection.close();
} finally {
  await server.stop();
  await rm(server.dataDir, { recursive: true, force: true });
}

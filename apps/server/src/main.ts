import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { templateProjectDir } from '@cutroom/template';
import { buildApp } from './app.js';
import { ConfigError, allowedOrigins, loadConfig, providerStatus } from './config.js';
import { createProjectRepos } from './repos/project-repos.js';
import { openStore } from './store/store.js';

const version = (
  JSON.parse(readFileSync(path.resolve(import.meta.dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }

  const logger = pino({
    level: config.logLevel,
    redact: ['req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]'],
  });
  logger.info({ store: config.store.kind, dataDir: config.dataDir, version }, 'starting Cutroom');

  const store = await openStore(config.store);
  const repos = createProjectRepos({ reposDir: path.join(config.dataDir, 'repos'), templateDir: templateProjectDir });
  const swept = await repos.sweep(await store.projects.allIds());
  if (swept.removed.length) logger.info({ removed: swept.removed }, 'removed leftovers of interrupted operations');
  if (swept.orphans.length) logger.warn({ orphans: swept.orphans }, 'repos that no project owns (kept; check DATABASE_URL)');

  let listenPort = config.port;
  const app = await buildApp({ config, store, repos, logger, version, allowedOrigins: () => origins });
  let origins = allowedOrigins(config, listenPort);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    try {
      await app.close();
      await store.close();
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'error while shutting down');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  if (address && typeof address === 'object') listenPort = address.port;
  origins = allowedOrigins(config, listenPort);

  const provider = providerStatus(config);
  if (!provider.configured) logger.warn(provider.hint);
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${listenPort}`;
  logger.info({ url }, 'Cutroom is ready');
  if (process.stderr.isTTY) process.stderr.write(`\n  Cutroom is running at ${url}\n\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`Cutroom could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

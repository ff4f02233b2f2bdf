import path from 'node:path';
import type { Logger } from 'pino';
import { templateProjectDir } from '@cutroom/template';
import type { Config } from '../../config.js';
import type { SandboxDriver } from './driver.js';
import { createDockerDriver } from './docker/docker-driver.js';
import { createLocalDriver } from './local/local-driver.js';

/**
 * The one place that turns `SANDBOX_DRIVER` into a driver. `loadConfig` has already
 * refused names that do not exist (a fatal configuration error, never a fallback).
 */
export const DRIVERS = {
  local: (config: Config, logger: Logger) =>
    createLocalDriver({
      sandboxesDir: path.join(config.dataDir, 'sandboxes'),
      sharedCacheDir: path.join(config.dataDir, 'cache', 'vite-deps'),
      templateDir: templateProjectDir,
      limits: config.sandbox.limits,
      logger,
    }),
  docker: (config: Config, logger: Logger) =>
    createDockerDriver({
      sandboxesDir: path.join(config.dataDir, 'sandboxes'),
      sharedCacheDir: path.join(config.dataDir, 'cache', 'vite-deps'),
      templateDir: templateProjectDir,
      limits: config.sandbox.limits,
      ...(config.sandbox.image ? { image: config.sandbox.image } : {}),
      ...(config.sandbox.dockerHost ? { dockerHost: config.sandbox.dockerHost } : {}),
      logger,
    }),
} satisfies Record<Config['sandboxDriver'], (config: Config, logger: Logger) => SandboxDriver>;

export function createDriver(config: Config, logger: Logger): SandboxDriver {
  return DRIVERS[config.sandboxDriver](config, logger.child({ component: `${config.sandboxDriver}-driver` }));
}

import path from 'node:path';
import type { Logger } from 'pino';
import { templateProjectDir } from '@cutroom/template';
import { type Config, ConfigError } from '../../config.js';
import type { SandboxDriver } from './driver.js';
import { createDockerDriver, defaultImage, serverLabel } from './docker/docker-driver.js';
import { localConfinement } from './local/bubblewrap.js';
import { createLocalDriver } from './local/local-driver.js';

/** Where the server keeps its sandboxes' folders (and so what its docker containers are labelled with). */
const sandboxesDir = (config: Config) => path.join(config.dataDir, 'sandboxes');

/**
 * The engine, image and server label the docker driver's sandboxes use, for the renders
 * that must run beside them (null unless SANDBOX_DRIVER=docker).
 */
export function dockerRenderSettings(config: Config): { image: string; server: string; dockerHost?: string } | null {
  if (config.sandboxDriver !== 'docker') return null;
  return {
    image: config.sandbox.image ?? defaultImage(),
    server: serverLabel(sandboxesDir(config)),
    ...(config.sandbox.dockerHost ? { dockerHost: config.sandbox.dockerHost } : {}),
  };
}

/** What a caller may set besides the configuration (tests share one Vite cache across servers). */
export type DriverOverrides = { sharedCacheDir?: string };

/**
 * The one place that turns `SANDBOX_DRIVER` into a driver. `loadConfig` has already
 * refused names that do not exist (a fatal configuration error, never a fallback).
 */
export const DRIVERS = {
  local: (config: Config, logger: Logger, overrides: DriverOverrides = {}) =>
    createLocalDriver({
      sandboxesDir: sandboxesDir(config),
      sharedCacheDir: overrides.sharedCacheDir ?? path.join(config.dataDir, 'cache', 'vite-deps'),
      templateDir: templateProjectDir,
      limits: config.sandbox.limits,
      logger,
    }),
  docker: (config: Config, logger: Logger, overrides: DriverOverrides = {}) => {
    // Without root, containers would run as the server's own user, whose files (the socket
    // folder the server connects through, its engine socket) the sandbox could then change.
    if (process.getuid?.() !== 0) {
      throw new ConfigError(
        'SANDBOX_DRIVER=docker needs the server to run as root, so that each sandbox runs as a user of its own (docs/security.md, "The docker driver").',
      );
    }
    return createDockerDriver({
      sandboxesDir: sandboxesDir(config),
      sharedCacheDir: overrides.sharedCacheDir ?? path.join(config.dataDir, 'cache', 'vite-deps'),
      templateDir: templateProjectDir,
      limits: config.sandbox.limits,
      ...(config.sandbox.image ? { image: config.sandbox.image } : {}),
      ...(config.sandbox.dockerHost ? { dockerHost: config.sandbox.dockerHost } : {}),
      logger,
    });
  },
} satisfies Record<Config['sandboxDriver'], (config: Config, logger: Logger, overrides?: DriverOverrides) => SandboxDriver>;

export function createDriver(config: Config, logger: Logger, overrides: DriverOverrides = {}): SandboxDriver {
  return DRIVERS[config.sandboxDriver](config, logger.child({ component: `${config.sandboxDriver}-driver` }), overrides);
}

/**
 * Says at start which driver runs sandboxes and what walls them in; when nothing does
 * (the local driver without a working bubblewrap), one warning with what is missing and
 * the command that fixes it.
 */
export function logConfinement(driver: SandboxDriver, logger: Logger) {
  logger.info({ sandboxDriver: driver.name, confinement: driver.confinement }, 'sandbox driver');
  if (driver.name === 'local' && driver.confinement === 'none') {
    const { warning } = localConfinement();
    if (warning) logger.warn({ sandboxDriver: driver.name, confinement: driver.confinement }, warning);
  }
}

import type { Logger } from 'pino';
import type { SandboxDriver } from '../driver.js';

export type DockerDriverSettings = {
  sandboxesDir: string;
  sharedCacheDir: string;
  templateDir: string;
  limits: { memoryMb: number; pids: number; cpus: number; diskMb: number };
  image?: string;
  dockerHost?: string;
  logger: Logger;
};

/** Placeholder until the docker driver lands (issue 10). */
export function createDockerDriver(settings: DockerDriverSettings): SandboxDriver {
  void settings;
  throw new Error('the docker driver is not built yet');
}

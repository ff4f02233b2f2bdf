import type { SandboxFiles } from '../agent/turns.js';
import type { ProjectRepos } from '../repos/project-repos.js';
import type { SandboxDriver } from './drivers/driver.js';

/**
 * A sandbox's working copy and agent state move only through its driver, as tar streams
 * (never by host path), so a driver whose sandboxes live on another machine fits the
 * session code unchanged.
 */
export function sandboxFiles(driver: SandboxDriver, sandboxId: string): SandboxFiles {
  return {
    read: (area, options) => driver.readFiles(sandboxId, area, options),
    write: (area, tar, options) => driver.writeFiles(sandboxId, area, tar, options),
  };
}

/**
 * Makes a sandbox's working copy the project's latest version: only files that differ
 * are written (the preview's watcher sees only real changes), files the version lacks
 * are removed. Returns the version.
 */
export async function checkoutLatest(repos: ProjectRepos, driver: SandboxDriver, projectId: string, sandboxId: string): Promise<string> {
  const { version, tar } = await repos.archive(projectId);
  try {
    await driver.writeFiles(sandboxId, 'workspace', tar, { replace: true });
  } finally {
    tar.destroy();
  }
  return version;
}

/**
 * Replaces the working copy of sandbox `to` with the one of sandbox `from` (unsaved edits
 * and all), for a session that moves to a new sandbox after its old one died.
 */
export async function copyWorkspace(driver: SandboxDriver, from: string, to: string): Promise<void> {
  const tar = await driver.readFiles(from, 'workspace');
  try {
    await driver.writeFiles(to, 'workspace', tar, { replace: true });
  } finally {
    tar.destroy();
  }
}

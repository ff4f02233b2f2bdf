import { cp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { git } from '../repos/git.js';

/**
 * Replaces the working copy in `to` with the one in `from` (git history and unsaved
 * edits alike), for a session that moves to a new sandbox after its old one died.
 * Returns the version the copy is at.
 */
export async function copyWorkspace(from: string, to: string): Promise<string> {
  for (const entry of await readdir(to)) await rm(path.join(to, entry), { recursive: true, force: true });
  await cp(from, to, { recursive: true, filter: (source) => !source.split(path.sep).includes('node_modules') });
  return (await git(['-C', to, 'rev-parse', 'HEAD'])).trim();
}

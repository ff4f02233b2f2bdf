import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { guarded } from './database-error.js';
import type { Database, Queryable } from './database.js';

export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

/**
 * PGlite keeps one connection in one process. A second process on the same folder
 * would corrupt it, so the folder gets a lock file holding the owner's pid: a live
 * owner makes the second open fail at once; a dead owner's lock is taken over.
 */
const locksHeldHere = new Set<string>();

async function takeLock(lockPath: string): Promise<void> {
  if (locksHeldHere.has(lockPath)) {
    throw new DataDirLockedError(`The database in ${path.dirname(lockPath)} is already open in this process.`);
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      locksHeldHere.add(lockPath);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new DataDirLockedError(
          `The database in ${path.dirname(lockPath)} is in use by another Cutroom process (pid ${owner}). ` +
            'Stop it, or give this one its own DATA_DIR.',
        );
      }
      await rm(lockPath, { force: true });
    }
  }
  throw new DataDirLockedError(`Could not lock ${lockPath}`);
}

async function releaseLock(lockPath: string) {
  locksHeldHere.delete(lockPath);
  await rm(lockPath, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function openPgliteDatabase(dataDir: string): Promise<Database> {
  await mkdir(dataDir, { recursive: true });
  const lockPath = path.resolve(dataDir, '..', `${path.basename(dataDir)}.lock`);
  await takeLock(lockPath);
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir);
  } catch (error) {
    await releaseLock(lockPath);
    throw error;
  }
  const queryable = (target: Pick<PGlite, 'query'>): Queryable => ({
    async query<Row>(sql: string, params: unknown[] = []) {
      const result = await guarded(() => target.query<Row>(sql, params));
      return result.rows;
    },
  });
  return {
    kind: 'pglite',
    ...queryable(db),
    async exec(sql) {
      await guarded(() => db.exec(sql));
    },
    transaction: (work) => guarded(() => db.transaction((tx) => work(queryable(tx)))),
    async close() {
      try {
        await db.close();
      } finally {
        await releaseLock(lockPath);
      }
    },
  };
}

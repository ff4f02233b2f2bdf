import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Database } from '../store/database.js';
import { openPgliteDatabase } from '../store/pglite-database.js';
import { openPostgresDatabase } from '../store/postgres-database.js';

/** The PostgreSQL server the tests use: 127.0.0.1:5432, database `test`, or TEST_DATABASE_URL. */
export const postgresUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type DatabaseEngine = { name: 'pglite' | 'postgres'; open: () => Promise<{ db: Database; cleanup: () => Promise<void> }> };

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The engines a database test runs against: PGlite always (a fresh folder each time),
 * PostgreSQL (a fresh schema each time, dropped at cleanup) when reachable. With CI=true
 * an unreachable PostgreSQL is an error, never a silent skip; elsewhere it is skipped with
 * a printed notice naming `suite`.
 */
export async function databaseEngines(suite: string, options: { maxConnections?: number } = {}): Promise<DatabaseEngine[]> {
  const engines: DatabaseEngine[] = [
    {
      name: 'pglite',
      async open() {
        const dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-pglite-'));
        const db = await openPgliteDatabase(path.join(dir, 'db'));
        return { db, cleanup: async () => rm(dir, { recursive: true, force: true }) };
      },
    },
  ];
  if (!(await postgresReachable())) {
    if (process.env.CI === 'true') {
      throw new Error(`CI=true but PostgreSQL is not reachable at ${postgresUrl}; the PostgreSQL runs of ${suite} must run in CI.`);
    }
    console.warn(`[${suite}] PostgreSQL not reachable at ${postgresUrl}: skipping the PostgreSQL run (PGlite still runs).`);
    return engines;
  }
  engines.push({
    name: 'postgres',
    async open() {
      const schema = `cutroom_test_${randomUUID().replaceAll('-', '')}`;
      const db = await openPostgresDatabase({ url: postgresUrl, schema, maxConnections: options.maxConnections ?? 4 });
      return {
        db,
        cleanup: async () => {
          const admin = new pg.Client({ connectionString: postgresUrl });
          await admin.connect();
          await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
          await admin.end();
        },
      };
    },
  });
  return engines;
}

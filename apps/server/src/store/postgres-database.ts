import pg from 'pg';
import { guarded } from './database-error.js';
import type { Database, Queryable } from './database.js';

export type PostgresOptions = {
  url: string;
  /** Schema to use (created if missing); tests give each run its own. */
  schema?: string;
  maxConnections?: number;
};

const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;

export async function openPostgresDatabase(options: PostgresOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: 5_000,
    options: options.schema ? `-c search_path=${quoteIdentifier(options.schema)}` : undefined,
  });
  // Idle clients can fail (server restart); without a listener that would crash the process.
  pool.on('error', () => {});
  if (options.schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(options.schema)}`);
  else await pool.query('SELECT 1');

  const queryable = (target: Pick<pg.Pool, 'query'>): Queryable => ({
    async query<Row>(sql: string, params: unknown[] = []) {
      const result = await guarded(() => target.query(sql, params));
      return result.rows as Row[];
    },
  });
  return {
    kind: 'postgres',
    ...queryable(pool),
    async exec(sql) {
      await guarded(() => pool.query(sql));
    },
    async transaction(work) {
      const client = await guarded(() => pool.connect());
      try {
        await guarded(() => client.query('BEGIN'));
        const result = await work(queryable(client));
        await guarded(() => client.query('COMMIT'));
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

import type { Database } from './database.js';

/**
 * One schema, one ordered list of migrations, for PGlite and PostgreSQL alike. Append
 * only: a migration that has run is never edited. Each runs in its own transaction and
 * is recorded in `schema_migrations`; an advisory lock keeps two servers from migrating
 * one database at once.
 */
export const migrations: { id: string; sql: string }[] = [
  {
    id: '0001_accounts_projects_messages',
    sql: `
      CREATE TABLE users (
        id uuid PRIMARY KEY,
        email text NOT NULL,
        name text NOT NULL,
        password_hash text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE UNIQUE INDEX users_email_key ON users (lower(email));

      CREATE TABLE auth_sessions (
        token_hash text PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id);

      CREATE TABLE projects (
        id uuid PRIMARY KEY,
        owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name text NOT NULL,
        agent_session_id text,
        current_version text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX projects_owner_idx ON projects (owner_id, updated_at DESC);

      CREATE TABLE messages (
        id uuid PRIMARY KEY,
        project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        role text NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
        content text NOT NULL,
        actions jsonb NOT NULL DEFAULT '[]'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX messages_project_idx ON messages (project_id, created_at, id);
    `,
  },
  {
    id: '0002_message_turns',
    sql: `
      ALTER TABLE messages ADD COLUMN status text NOT NULL DEFAULT 'done' CHECK (status IN ('done', 'cancelled', 'failed'));
      ALTER TABLE messages ADD COLUMN auto_fix boolean NOT NULL DEFAULT false;
      ALTER TABLE messages ADD COLUMN version text;
    `,
  },
  {
    id: '0003_exports',
    sql: `
      CREATE TABLE exports (
        id uuid PRIMARY KEY,
        owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        version text NOT NULL,
        composition_id text NOT NULL,
        format text NOT NULL CHECK (format IN ('mp4', 'webm', 'gif', 'png')),
        scale double precision NOT NULL DEFAULT 1,
        frame integer,
        status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'preparing', 'rendering', 'done', 'failed', 'cancelled')),
        progress double precision NOT NULL DEFAULT 0,
        rendered_frames integer NOT NULL DEFAULT 0,
        total_frames integer,
        error text,
        output_path text,
        size_bytes bigint,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz
      );
      CREATE INDEX exports_project_idx ON exports (project_id, created_at DESC);
      CREATE INDEX exports_owner_status_idx ON exports (owner_id, status);

      ALTER TABLE projects ADD COLUMN thumbnail_version text;
    `,
  },
  {
    // Messages saved in the same instant (PGlite's clock moves in milliseconds; a turn's
    // reply and the cancellations after it are often that close) came back in the order
    // of their random ids. `seq` keeps the order they were saved in.
    id: '0004_message_order',
    sql: `
      ALTER TABLE messages ADD COLUMN seq bigserial;
      CREATE INDEX messages_project_order_idx ON messages (project_id, created_at, seq)
    `,
  },
  {
    // The composition its owner chose (the preview starts on it, the thumbnail shows it),
    // and the one the thumbnail shows.
    id: '0005_project_composition',
    sql: `
      ALTER TABLE projects ADD COLUMN composition_id text;
      ALTER TABLE projects ADD COLUMN thumbnail_composition text
    `,
  },
];

const MIGRATION_LOCK = 7_236_661_001;

export async function migrate(db: Database): Promise<string[]> {
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    id text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const applied: string[] = [];
  for (const migration of migrations) {
    const ran = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const done = await tx.query('SELECT 1 FROM schema_migrations WHERE id = $1', [migration.id]);
      if (done.length > 0) return false;
      for (const statement of splitStatements(migration.sql)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (id) VALUES ($1)', [migration.id]);
      return true;
    });
    if (ran) applied.push(migration.id);
  }
  return applied;
}

/** Our migrations hold no semicolons inside strings or bodies, so a split is enough. */
function splitStatements(sql: string): string[] {
  return sql
    .split(';')
    .map((statement) => statement.trim())
    .filter(Boolean);
}

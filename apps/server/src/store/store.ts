import type { AgentAction, Message, MessageRole, Project, TurnStatus, User } from '@cutroom/protocol';
import type { Config } from '../config.js';
import { type Database, type Queryable, isUniqueViolation } from './database.js';
import { createExportStore } from './export-store.js';
import { migrate } from './migrations.js';
import { openPgliteDatabase } from './pglite-database.js';
import { openPostgresDatabase } from './postgres-database.js';

export class EmailTakenError extends Error {
  override name = 'EmailTakenError';
}

/** The owner already has as many projects as allowed (see `projects.create`'s `maxPerOwner`). */
export class ProjectLimitError extends Error {
  override name = 'ProjectLimitError';
  constructor(readonly limit: number) {
    super(`the owner already has ${limit} projects`);
  }
}

export type UserWithSecret = User & { passwordHash: string };

type UserRow = { id: string; email: string; name: string; password_hash: string; created_at: Date | string };
type ProjectRow = {
  id: string;
  owner_id: string;
  name: string;
  agent_session_id: string | null;
  current_version: string | null;
  thumbnail_version?: string | null;
  composition_id?: string | null;
  thumbnail_composition?: string | null;
  created_at: Date | string;
  updated_at: Date | string;
};
type MessageRow = {
  id: string;
  project_id: string;
  role: MessageRole;
  content: string;
  actions: unknown;
  status: TurnStatus;
  auto_fix: boolean;
  version: string | null;
  created_at: Date | string;
  updated_at: Date | string;
};

const iso = (value: Date | string) => new Date(value).toISOString();

const toUser = (row: UserRow): UserWithSecret => ({
  id: row.id,
  email: row.email,
  name: row.name,
  createdAt: iso(row.created_at),
  passwordHash: row.password_hash,
});

const toProject = (row: ProjectRow): Project => ({
  id: row.id,
  name: row.name,
  agentSessionId: row.agent_session_id,
  currentVersion: row.current_version,
  thumbnailVersion: row.thumbnail_version ?? null,
  compositionId: row.composition_id ?? null,
  thumbnailComposition: row.thumbnail_composition ?? null,
  createdAt: iso(row.created_at),
  updatedAt: iso(row.updated_at),
});

const toMessage = (row: MessageRow): Message => ({
  id: row.id,
  projectId: row.project_id,
  role: row.role,
  content: row.content,
  actions: (typeof row.actions === 'string' ? JSON.parse(row.actions) : row.actions) as AgentAction[],
  status: row.status,
  autoFix: row.auto_fix,
  version: row.version,
  createdAt: iso(row.created_at),
  updatedAt: iso(row.updated_at),
});

/**
 * Everything the app keeps in its database, by object. Every project query takes the
 * owner's id, so a query can never return another user's project by mistake.
 */
export function createStore(db: Database) {
  const users = {
    async create(input: { id: string; email: string; name: string; passwordHash: string }, on: Queryable = db) {
      try {
        const [row] = await on.query<UserRow>(
          'INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4) RETURNING *',
          [input.id, input.email, input.name, input.passwordHash],
        );
        return toUser(row!);
      } catch (error) {
        if (isUniqueViolation(error)) throw new EmailTakenError(input.email);
        throw error;
      }
    },
    async findByEmail(email: string) {
      const [row] = await db.query<UserRow>('SELECT * FROM users WHERE lower(email) = lower($1)', [email]);
      return row ? toUser(row) : null;
    },
  };

  const authSessions = {
    async create(input: { tokenHash: string; userId: string; expiresAt: Date }) {
      await db.query('INSERT INTO auth_sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)', [
        input.tokenHash,
        input.userId,
        input.expiresAt.toISOString(),
      ]);
    },
    /** The signed-in user for a session token's hash, if the session is still valid. */
    async findUser(tokenHash: string) {
      const [row] = await db.query<UserRow>(
        `SELECT users.* FROM auth_sessions JOIN users ON users.id = auth_sessions.user_id
         WHERE auth_sessions.token_hash = $1 AND auth_sessions.expires_at > now()`,
        [tokenHash],
      );
      return row ? toUser(row) : null;
    },
    async delete(tokenHash: string) {
      await db.query('DELETE FROM auth_sessions WHERE token_hash = $1', [tokenHash]);
    },
    async deleteExpired() {
      const rows = await db.query('DELETE FROM auth_sessions WHERE expires_at <= now() RETURNING token_hash');
      return rows.length;
    },
  };

  const projects = {
    async list(ownerId: string) {
      const rows = await db.query<ProjectRow>(
        'SELECT * FROM projects WHERE owner_id = $1 ORDER BY updated_at DESC, id',
        [ownerId],
      );
      return rows.map(toProject);
    },
    async get(ownerId: string, id: string) {
      const [row] = await db.query<ProjectRow>('SELECT * FROM projects WHERE id = $1 AND owner_id = $2', [
        id,
        ownerId,
      ]);
      return row ? toProject(row) : null;
    },
    /** How many projects the owner has. */
    async count(ownerId: string) {
      const [row] = await db.query<{ count: number | string }>('SELECT count(*) AS count FROM projects WHERE owner_id = $1', [ownerId]);
      return Number(row?.count ?? 0);
    },
    /**
     * Inserts the project; with `maxPerOwner`, only while the owner has fewer (else a
     * `ProjectLimitError`). The owner's row is locked for the count and the insert, so two
     * creations at once cannot both take the last place.
     */
    async create(input: { id: string; ownerId: string; name: string; currentVersion: string | null; maxPerOwner?: number }) {
      const insert = (tx: Queryable) =>
        tx.query<ProjectRow>(
          `INSERT INTO projects (id, owner_id, name, current_version) VALUES ($1, $2, $3, $4) RETURNING *`,
          [input.id, input.ownerId, input.name, input.currentVersion],
        );
      const { maxPerOwner } = input;
      if (maxPerOwner === undefined) return toProject((await insert(db))[0]!);
      const row = await db.transaction(async (tx) => {
        await tx.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [input.ownerId]);
        const [counted] = await tx.query<{ count: number | string }>('SELECT count(*) AS count FROM projects WHERE owner_id = $1', [input.ownerId]);
        if (Number(counted?.count ?? 0) >= maxPerOwner) throw new ProjectLimitError(maxPerOwner);
        return (await insert(tx))[0]!;
      });
      return toProject(row);
    },
    async rename(ownerId: string, id: string, name: string) {
      const [row] = await db.query<ProjectRow>(
        `UPDATE projects SET name = $3, updated_at = now() WHERE id = $1 AND owner_id = $2 RETURNING *`,
        [id, ownerId, name],
      );
      return row ? toProject(row) : null;
    },
    async update(
      ownerId: string,
      id: string,
      changes: { currentVersion?: string; agentSessionId?: string | null; compositionId?: string | null },
    ) {
      const [row] = await db.query<ProjectRow>(
        `UPDATE projects SET
           current_version = CASE WHEN $3::boolean THEN $4 ELSE current_version END,
           agent_session_id = CASE WHEN $5::boolean THEN $6 ELSE agent_session_id END,
           composition_id = CASE WHEN $7::boolean THEN $8 ELSE composition_id END,
           -- Choosing which composition to show is not a change of the project: it must
           -- not move the project to the top of the list.
           updated_at = CASE WHEN $3::boolean OR $5::boolean THEN now() ELSE updated_at END
         WHERE id = $1 AND owner_id = $2 RETURNING *`,
        [
          id,
          ownerId,
          changes.currentVersion !== undefined,
          changes.currentVersion ?? null,
          changes.agentSessionId !== undefined,
          changes.agentSessionId ?? null,
          changes.compositionId !== undefined,
          changes.compositionId ?? null,
        ],
      );
      return row ? toProject(row) : null;
    },
    /** Deletes the project and (by cascade) its messages; false when there was none. */
    async delete(ownerId: string, id: string) {
      const rows = await db.query('DELETE FROM projects WHERE id = $1 AND owner_id = $2 RETURNING id', [id, ownerId]);
      return rows.length > 0;
    },
    async allIds() {
      const rows = await db.query<{ id: string }>('SELECT id FROM projects');
      return new Set(rows.map((row) => row.id));
    },
    /** Records the version (and composition) the project's thumbnail shows (not a change of the project: `updated_at` stays). */
    async setThumbnailVersion(id: string, version: string, composition: string | null = null) {
      const rows = await db.query('UPDATE projects SET thumbnail_version = $2, thumbnail_composition = $3 WHERE id = $1 RETURNING id', [id, version, composition]);
      return rows.length > 0;
    },
  };

  const messages = {
    async list(projectId: string) {
      const rows = await db.query<MessageRow>(
        'SELECT * FROM messages WHERE project_id = $1 ORDER BY created_at, seq',
        [projectId],
      );
      return rows.map(toMessage);
    },
    async add(input: {
      id: string;
      projectId: string;
      role: MessageRole;
      content: string;
      actions?: AgentAction[];
      status?: TurnStatus;
      autoFix?: boolean;
      version?: string | null;
    }) {
      const [row] = await db.query<MessageRow>(
        `INSERT INTO messages (id, project_id, role, content, actions, status, auto_fix, version)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8) RETURNING *`,
        [
          input.id,
          input.projectId,
          input.role,
          input.content,
          JSON.stringify(input.actions ?? []),
          input.status ?? 'done',
          input.autoFix ?? false,
          input.version ?? null,
        ],
      );
      return toMessage(row!);
    },
  };

  return {
    kind: db.kind,
    users,
    authSessions,
    projects,
    messages,
    exports: createExportStore(db),
    async ping() {
      try {
        await db.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    close: () => db.close(),
  };
}

export type Store = ReturnType<typeof createStore>;

/** Opens the configured engine and brings its schema up to date. */
export async function openStore(storeConfig: Config['store']): Promise<Store> {
  const db =
    storeConfig.kind === 'pglite'
      ? await openPgliteDatabase(storeConfig.dataDir)
      : await openPostgresDatabase({ url: storeConfig.url });
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return createStore(db);
}

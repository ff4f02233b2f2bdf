import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { templateProjectDir } from '@cutroom/template';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
import { createProjectRepos } from '../repos/project-repos.js';
import { DatabaseError } from './database-error.js';
import type { Database } from './database.js';
import { migrate } from './migrations.js';
import { type Store, createStore } from './store.js';
import { databaseEngines } from '../testing/database-engines.js';

/**
 * Secrets in logs (issue 9, item 7): a statement that fails must not put its values (a
 * password hash, a chat message) in any log line. The failures are real: a CHECK
 * constraint that refuses every new row makes the engine itself fail the INSERT, the way
 * PGlite's errors then carry `params` and PostgreSQL's a `detail` with the whole row.
 */
const engines = await databaseEngines('secrets in logs', { maxConnections: 2 });

function capturedLogger() {
  const lines: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
  return { logger, text: () => lines.join('') };
}

describe.each(engines)('failed statements on $name keep their values out of the logs', (engine) => {
  let db: Database;
  let store: Store;
  let cleanup: () => Promise<void>;
  let dataDir: string;
  let projectId: string;

  beforeAll(async () => {
    ({ db, cleanup } = await engine.open());
    await migrate(db);
    store = createStore(db);
    const owner = await store.users.create({ id: randomUUID(), email: 'owner@example.com', name: 'Owner', passwordHash: 'scrypt$owner' });
    projectId = randomUUID();
    await store.projects.create({ id: projectId, ownerId: owner.id, name: 'P', currentVersion: null });
    // Every new user and message is refused by the engine from here on.
    await db.exec('ALTER TABLE users ADD CONSTRAINT refuse_new_users CHECK (false) NOT VALID');
    await db.exec('ALTER TABLE messages ADD CONSTRAINT refuse_new_messages CHECK (false) NOT VALID');
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-db-error-app-'));
  });
  afterAll(async () => {
    await db.close();
    await cleanup();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a sign-up that fails in the database logs no password hash, email or name', async () => {
    const { logger, text } = capturedLogger();
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0' });
    const app = await buildApp({
      config,
      store,
      repos: createProjectRepos({ reposDir: path.join(dataDir, 'repos'), templateDir: templateProjectDir }),
      logger,
      version: 'test',
      allowedOrigins: () => new Set(['http://app.test']),
    });
    try {
      const response = await app.inject({
        method: 'POST',
        url: '/api/auth/signup',
        headers: { origin: 'http://app.test' },
        payload: { email: 'victim.person@example.com', password: 'a long secret passphrase', name: 'Victim Name' },
      });
      expect(response.statusCode).toBe(500);
      expect(response.json().error.code).toBe('internal');
    } finally {
      await app.close();
    }
    const logged = text();
    expect(logged).toContain('request failed');
    expect(logged).toContain('refuse_new_users');
    for (const secret of ['scrypt$', 'victim.person', 'Victim Name', 'a long secret passphrase']) expect(logged).not.toContain(secret);
  });

  it('a chat message that fails to save logs no text, even through a plain pino logger', async () => {
    // The chat path (agent/turns.ts, ws/gateway.ts) logs with the process's logger, not the app's.
    const { logger, text } = capturedLogger();
    const error = await store.messages
      .add({ id: randomUUID(), projectId, role: 'user', content: 'my secret chat text 4242' })
      .then(() => undefined, (failure: unknown) => failure);
    expect(error).toBeInstanceOf(DatabaseError);
    expect(error).toMatchObject({ code: '23514', constraint: 'refuse_new_messages' });
    logger.error({ err: error }, 'websocket handler failed');
    const logged = text();
    expect(logged).toContain('refuse_new_messages');
    expect(logged).not.toContain('my secret chat text');
    expect(JSON.stringify(error)).not.toContain('my secret chat text');
  });

  it('keeps values out of the message too, and keeps the SQLSTATE', async () => {
    const failure = await db.query('SELECT $1::uuid', ['not-a-uuid-secret']).then(() => undefined, (error: unknown) => error);
    expect(failure).toBeInstanceOf(DatabaseError);
    expect((failure as DatabaseError).code).toBe('22P02');
    expect(String((failure as Error).message)).not.toContain('secret');
  });
});

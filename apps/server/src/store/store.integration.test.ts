import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from './database.js';
import { migrate, migrations } from './migrations.js';
import { DataDirLockedError, openPgliteDatabase } from './pglite-database.js';
import { EmailTakenError, ProjectLimitError, type Store, createStore } from './store.js';
import { databaseEngines } from '../testing/database-engines.js';

/**
 * One contract suite for every engine. PGlite always runs. PostgreSQL runs against
 * the server on 127.0.0.1:5432 (database `test`, or TEST_DATABASE_URL): required when
 * CI=true, skipped with a printed notice elsewhere when it cannot be reached
 * (`testing/database-engines.ts`).
 */
const engines = await databaseEngines('store contract');

describe.each(engines)('store contract on $name', (engine) => {
  let db: Database;
  let store: Store;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ db, cleanup } = await engine.open());
    await migrate(db);
    store = createStore(db);
  });
  afterAll(async () => {
    await db.close();
    await cleanup();
  });

  const newUser = (email = `${randomUUID()}@example.com`) =>
    store.users.create({ id: randomUUID(), email, name: 'Ada', passwordHash: 'scrypt$x' });

  it('migrations are recorded and a second run applies nothing', async () => {
    expect(await migrate(db)).toEqual([]);
    const rows = await db.query<{ id: string }>('SELECT id FROM schema_migrations ORDER BY id');
    expect(rows.map((row) => row.id)).toEqual(migrations.map((migration) => migration.id));
  });

  it('creates users and refuses a second account for the same email in any case', async () => {
    const user = await newUser('Grace@Example.com');
    expect(user).toMatchObject({ email: 'Grace@Example.com', name: 'Ada' });
    expect(await store.users.findByEmail('grace@example.com')).toMatchObject({ id: user.id });
    await expect(newUser('grace@EXAMPLE.com')).rejects.toBeInstanceOf(EmailTakenError);
  });

  it('auth sessions resolve to their user until they expire or are deleted', async () => {
    const user = await newUser();
    await store.authSessions.create({ tokenHash: 'live', userId: user.id, expiresAt: new Date(Date.now() + 60_000) });
    await store.authSessions.create({ tokenHash: 'old', userId: user.id, expiresAt: new Date(Date.now() - 1_000) });
    expect((await store.authSessions.findUser('live'))?.id).toBe(user.id);
    expect(await store.authSessions.findUser('old')).toBeNull();
    expect(await store.authSessions.deleteExpired()).toBeGreaterThanOrEqual(1);
    await store.authSessions.delete('live');
    expect(await store.authSessions.findUser('live')).toBeNull();
  });

  it('projects belong to their owner: others can neither read, rename nor delete them', async () => {
    const owner = await newUser();
    const other = await newUser();
    const project = await store.projects.create({ id: randomUUID(), ownerId: owner.id, name: 'Launch', currentVersion: 'abc' });
    expect(project).toMatchObject({ name: 'Launch', currentVersion: 'abc', agentSessionId: null });

    expect(await store.projects.get(other.id, project.id)).toBeNull();
    expect(await store.projects.rename(other.id, project.id, 'Stolen')).toBeNull();
    expect(await store.projects.delete(other.id, project.id)).toBe(false);
    expect(await store.projects.list(other.id)).toEqual([]);

    const renamed = await store.projects.rename(owner.id, project.id, 'Launch v2');
    expect(renamed?.name).toBe('Launch v2');
    expect(Date.parse(renamed!.updatedAt)).toBeGreaterThanOrEqual(Date.parse(project.updatedAt));
    expect((await store.projects.list(owner.id)).map((item) => item.name)).toEqual(['Launch v2']);
  });

  it('counts an owner\'s projects and, with a cap, lets concurrent creations take only the places left', async () => {
    const owner = await newUser();
    const other = await newUser();
    await store.projects.create({ id: randomUUID(), ownerId: owner.id, name: 'Kept', currentVersion: null });
    await store.projects.create({ id: randomUUID(), ownerId: other.id, name: 'Theirs', currentVersion: null });
    expect(await store.projects.count(owner.id)).toBe(1);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, index) =>
        store.projects.create({ id: randomUUID(), ownerId: owner.id, name: `Burst ${index}`, currentVersion: null, maxPerOwner: 3 }),
      ),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(2);
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(ProjectLimitError);
    }
    expect(await store.projects.count(owner.id)).toBe(3);
    expect(await store.projects.count(other.id)).toBe(1);
  });

  it('updates the current version and agent session id independently', async () => {
    const owner = await newUser();
    const project = await store.projects.create({ id: randomUUID(), ownerId: owner.id, name: 'P', currentVersion: 'v1' });
    expect(await store.projects.update(owner.id, project.id, { agentSessionId: 'agent-1' })).toMatchObject({
      currentVersion: 'v1',
      agentSessionId: 'agent-1',
    });
    expect(await store.projects.update(owner.id, project.id, { currentVersion: 'v2' })).toMatchObject({
      currentVersion: 'v2',
      agentSessionId: 'agent-1',
    });
  });

  it('keeps the project in its place in the list when only the chosen composition changes', async () => {
    const owner = await newUser();
    const older = await store.projects.create({ id: randomUUID(), ownerId: owner.id, name: 'Older', currentVersion: 'v1' });
    const newer = await store.projects.create({ id: randomUUID(), ownerId: owner.id, name: 'Newer', currentVersion: 'v1' });
    await store.projects.update(owner.id, newer.id, { currentVersion: 'v2' });
    const chosen = await store.projects.update(owner.id, older.id, { compositionId: 'Outro' });
    expect(chosen).toMatchObject({ compositionId: 'Outro', updatedAt: older.updatedAt });
    expect((await store.projects.list(owner.id)).map((project) => project.name)).toEqual(['Newer', 'Older']);
    // A new version does move it.
    await store.projects.update(owner.id, older.id, { currentVersion: 'v2' });
    expect((await store.projects.list(owner.id)).map((project) => project.name)).toEqual(['Older', 'Newer']);
  });

  it('keeps messages in order with their actions, and deletes them with the project', async () => {
    const owner = await newUser();
    const project = await store.projects.create({ id: randomUUID(), ownerId: owner.id, name: 'P', currentVersion: null });
    const action = { id: 'toolu_1', tool: 'edit' as const, name: 'Edit', path: 'src/scenes/TitleScene.tsx', status: 'done' as const, diff: '@@ -1 +1 @@' };
    await store.messages.add({ id: randomUUID(), projectId: project.id, role: 'user', content: 'Make it blue', autoFix: true });
    await store.messages.add({
      id: randomUUID(),
      projectId: project.id,
      role: 'assistant',
      content: 'Done.',
      actions: [action],
      status: 'cancelled',
      version: 'abc123',
    });
    const listed = await store.messages.list(project.id);
    expect(listed.map((message) => [message.role, message.content])).toEqual([
      ['user', 'Make it blue'],
      ['assistant', 'Done.'],
    ]);
    expect(listed[0]).toMatchObject({ autoFix: true, status: 'done', version: null });
    expect(listed[1]).toMatchObject({ actions: [action], status: 'cancelled', autoFix: false, version: 'abc123' });

    expect(await store.projects.delete(owner.id, project.id)).toBe(true);
    expect(await store.messages.list(project.id)).toEqual([]);
  });

  it('lists messages saved in the same instant in the order they were saved, not by id', async () => {
    const owner = await newUser();
    const project = await store.projects.create({ id: randomUUID(), ownerId: owner.id, name: 'P', currentVersion: null });
    const contents = Array.from({ length: 40 }, (_, index) => `message ${index}`);
    for (const content of contents) await store.messages.add({ id: randomUUID(), projectId: project.id, role: 'assistant', content });
    expect((await store.messages.list(project.id)).map((message) => message.content)).toEqual(contents);
  });

  it('rolls back a failed transaction', async () => {
    const owner = await newUser();
    const id = randomUUID();
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO projects (id, owner_id, name) VALUES ($1, $2, $3)', [id, owner.id, 'Half']);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await store.projects.get(owner.id, id)).toBeNull();
  });

  it('answers a ping', async () => {
    expect(await store.ping()).toBe(true);
  });
});

describe('pglite data folder', () => {
  it('refuses a second opener of the same folder while the first is alive', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-lock-'));
    const first = await openPgliteDatabase(path.join(dir, 'db'));
    try {
      await expect(openPgliteDatabase(path.join(dir, 'db'))).rejects.toBeInstanceOf(DataDirLockedError);
    } finally {
      await first.close();
    }
    const again = await openPgliteDatabase(path.join(dir, 'db'));
    await again.close();
    await rm(dir, { recursive: true, force: true });
  });
});

import pino from 'pino';
import type { ServerMessage } from '@cutroom/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Chat, ChatSandbox } from '../agent/turns.js';
import type { BridgeClient } from './bridge-client.js';
import type { Sandbox, SandboxDriver } from './drivers/driver.js';
import { createPreviewTokens } from './preview-tokens.js';
import { type Session, type SessionClient, type SessionLife, createSessionLife } from './session-life.js';

/** A session's life without a real sandbox: a driver that only counts, a bridge and a chat that record. */
describe('session life', () => {
  const tokens = createPreviewTokens({ ttlMs: 60_000 });
  const lives: SessionLife[] = [];
  afterEach(() => lives.splice(0).forEach((life) => life.stopCull()));

  function setUp(graceMs = 60_000) {
    const driver = { stop: vi.fn(async () => {}), destroy: vi.fn(async () => {}) } as unknown as SandboxDriver;
    const life = createSessionLife({ driver, tokens, logger: pino({ level: 'silent' }), graceMs, idleMs: 600_000, previewOrigin: () => 'http://preview.test' });
    lives.push(life);
    return { driver, life };
  }
  const tab = (userId = 'owner-1') => {
    const received: ServerMessage[] = [];
    const client: SessionClient = { userId, send: (message) => received.push(message) };
    return { client, received };
  };
  const sandbox = (id: string) => ({ id, base: `/s/${id}/`, preview: { socketPath: `/nowhere/${id}` }, previewKey: 'key' }) as Sandbox;
  const bridge = () => ({ send: vi.fn(), close: vi.fn() }) as unknown as BridgeClient;
  /** A chat that records what the session serves it. */
  const recordingChat = (session: Session) => {
    const served: (ChatSandbox | null)[] = [];
    session.chat = { serve: (given: ChatSandbox | null) => served.push(given), busy: () => false, liveFrom: () => undefined } as unknown as Chat;
    return served;
  };
  /** What a boot does when its sandbox is up (see session-boot.ts). */
  const bootDone = (life: SessionLife, session: Session, id = 'sandbox-1') => {
    session.sandbox = sandbox(id);
    session.bridge = bridge();
    life.transition(session, 'running');
    life.emit(session, { type: 'session:ready' });
    life.serveChat(session);
  };

  it('moves only along the lifecycle, and tells every tab each move with its seq', () => {
    const { life } = setUp();
    const { client, received } = tab();
    const session = life.open({ id: 'project-1', ownerId: 'owner-1' }, 'owner-1');
    life.join(session, client, {}, true);
    expect(() => life.transition(session, 'grace')).toThrow(/no transition from starting to grace/);
    bootDone(life, session);
    expect(received.map((message) => message.type)).toEqual(['session:status', 'session:ready']);
    const ready = received[1] as Extract<ServerMessage, { type: 'session:ready' }>;
    expect(ready.previewUrl).toMatch(/^http:\/\/preview\.test\/s\/sandbox-1\/\?t=/);
    expect(tokens.check(decodeURIComponent(ready.previewUrl.split('?t=')[1]!), 'sandbox-1', 'owner-1')).toBe('valid');
  });

  it('gives a reconnect exactly what it missed, and a new tab a snapshot', () => {
    const { life } = setUp();
    const first = tab();
    const session = life.open({ id: 'project-1', ownerId: 'owner-1' }, 'owner-1');
    life.join(session, first.client, {}, true);
    bootDone(life, session);
    const lastSeq = session.events.lastSeq();
    life.leave(first.client);
    expect(session.state).toBe('grace');
    life.emit(session, { type: 'error', code: 'session_failed', message: 'missed' });
    const again = tab();
    expect(life.join(session, again.client, { sessionId: session.id, lastSeq }, false)).toBe('events');
    expect(session.state).toBe('running');
    expect(again.received.map((message) => message.type)).toEqual(['session:status', 'error', 'session:status']);
    const other = tab();
    expect(life.join(session, other.client, { sessionId: 'another', lastSeq }, false)).toBe('snapshot');
    expect(other.received.map((message) => message.type)).toEqual(['session:ready', 'session:status']);
  });

  it('serves its chat a sandbox only while it is live and no restore holds it', () => {
    const { life } = setUp();
    const session = life.open({ id: 'project-1', ownerId: 'owner-1' }, 'owner-1');
    const served = recordingChat(session);
    bootDone(life, session);
    expect(served.at(-1)).not.toBeNull();
    served.at(-1)!.send({ type: 'cancel', turnId: 'turn-1' });
    expect(session.bridge!.send).toHaveBeenCalledWith({ type: 'cancel', turnId: 'turn-1' });
    life.hold(session);
    life.hold(session);
    expect(served.at(-1)).toBeNull();
    life.release(session);
    expect(served.at(-1)).toBeNull();
    life.release(session);
    expect(served.at(-1)).not.toBeNull();
    life.fail(session, 'The preview process exited.');
    expect(session.state).toBe('error');
    expect(served.at(-1)).toBeNull();
    // Released while in error: still nothing to serve.
    life.hold(session);
    life.release(session);
    expect(served.at(-1)).toBeNull();
  });

  it('ends a session after the grace period once its last tab left: tabs told, sandbox destroyed, no longer listed', async () => {
    const { driver, life } = setUp(30);
    const { client, received } = tab();
    const session = life.open({ id: 'project-1', ownerId: 'owner-1' }, 'owner-1');
    life.join(session, client, {}, true);
    bootDone(life, session);
    life.leave(client);
    expect(life.forClient(client)).toBeUndefined();
    await vi.waitFor(() => expect(session.state).toBe('stopped'));
    await vi.waitFor(() => expect(driver.destroy).toHaveBeenCalledWith('sandbox-1'));
    expect(driver.stop).toHaveBeenCalledWith('sandbox-1');
    expect(life.sessions.size).toBe(0);
    expect(life.forProject('project-1', 'owner-1')).toBeUndefined();
    // The tab that left before the end hears nothing of it; one there at the end would.
    expect(received.map((message) => message.type)).not.toContain('session:ended');
  });

  it('tells the tabs there at the end why it ended, and remembers it for their later messages', async () => {
    const { life } = setUp();
    const { client, received } = tab();
    const session = life.open({ id: 'project-1', ownerId: 'owner-1' }, 'owner-1');
    life.join(session, client, {}, true);
    await life.end(session, 'The server is shutting down.');
    expect(received.map((message) => message.type)).toEqual(['session:status', 'session:ended']);
    expect(life.endedFor(client)).toBe('The server is shutting down.');
    expect(() => life.transition(session, 'running')).toThrow();
  });
});

import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { AgentEvent, MAX_ACTION_DIFF, SandboxToServer } from '@cutroom/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_TEXT_DELTA, boundEvent } from './agent-host.js';
import { MAX_BRIDGE_FRAME_BYTES, startBridge } from './bridge.js';
import { SocketPathError } from './listen-target.js';

const TOKEN = 'bridge-token-for-the-test-0123456789';

describe('the bridge and what the agent host sends over it', () => {
  const closers: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  it('drops a frame larger than the limit instead of sending it, and the connection carries on', async () => {
    const bridge = await startBridge(TOKEN, { health: () => ({}), onMessage: () => {} });
    closers.push(() => bridge.close());
    // The server's end, with the server's own payload limit.
    const socket = new WebSocket(`ws://127.0.0.1:${bridge.port}/`, { headers: { authorization: `Bearer ${TOKEN}` }, maxPayload: 4 * 1024 * 1024 });
    closers.push(() => socket.terminate());
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const received: string[] = [];
    let closed = false;
    socket.on('message', (data) => received.push(String(data)));
    socket.on('close', () => (closed = true));

    const huge = { type: 'complete', turnId: 't1', status: 'failed', error: 'x'.repeat(5 * 1024 * 1024) } as SandboxToServer;
    bridge.send(huge);
    bridge.send({ type: 'complete', turnId: 't2', status: 'done' });
    await new Promise<void>((resolve) => {
      const check = () => (received.length > 0 || closed ? resolve() : setTimeout(check, 20));
      check();
    });
    expect(closed).toBe(false);
    expect(received.map((text) => JSON.parse(text).turnId)).toEqual(['t2']);
    expect(received.every((text) => Buffer.byteLength(text) <= MAX_BRIDGE_FRAME_BYTES)).toBe(true);
  });

  it('listens on a Unix socket (replacing a stale file), answers only the token holder there, and opens no port', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bridge-'));
    closers.push(() => rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
    const socketPath = path.join(dir, 'bridge.sock');
    // Left by an earlier runtime: a plain file, then a link (removed, never followed).
    await writeFile(socketPath, 'stale');
    const received: string[] = [];
    const bridge = await startBridge(TOKEN, { health: () => ({ up: true }), onMessage: (message) => void received.push(message.type) }, { socketPath });
    closers.push(() => bridge.close());
    expect(bridge.port).toBe(0);

    const health = (authorization?: string) =>
      new Promise<number>((resolve, reject) => {
        http
          .get({ socketPath, path: '/health', headers: authorization ? { authorization } : {} }, (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          })
          .on('error', reject);
      });
    expect(await health(`Bearer ${TOKEN}`)).toBe(200);
    expect(await health('Bearer wrong-token-wrong-token-wrong')).toBe(401);
    expect(await health()).toBe(401);

    const socket = new WebSocket(`ws+unix:${socketPath}:/`, { headers: { authorization: `Bearer ${TOKEN}` } });
    closers.push(() => socket.terminate());
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.send(JSON.stringify({ type: 'cancel', turnId: 't1' }));
    await new Promise<void>((resolve) => {
      const check = () => (received.length > 0 ? resolve() : setTimeout(check, 20));
      check();
    });
    expect(received).toEqual(['cancel']);

    await bridge.close();
    const target = path.join(dir, 'elsewhere');
    await mkdir(target);
    await symlink(target, socketPath).catch(() => {});
    const again = await startBridge(TOKEN, { health: () => ({}), onMessage: () => {} }, { socketPath });
    closers.push(() => again.close());
    expect(await health(`Bearer ${TOKEN}`)).toBe(200);
  });

  it('refuses a socket path longer than the kernel allows, naming it', async () => {
    const socketPath = path.join(os.tmpdir(), 'x'.repeat(110), 'bridge.sock');
    const failure = startBridge(TOKEN, { health: () => ({}), onMessage: () => {} }, { socketPath });
    await expect(failure).rejects.toBeInstanceOf(SocketPathError);
    await expect(failure).rejects.toThrow(socketPath);
  });

  it('bounds every event to what the protocol carries', () => {
    const pieces = boundEvent({ kind: 'text', delta: 'y'.repeat(250_000) }, 230_000);
    expect(pieces.map((piece) => (piece.kind === 'text' ? piece.delta.length : 0))).toEqual([MAX_TEXT_DELTA, MAX_TEXT_DELTA, 30_000]);
    expect(boundEvent({ kind: 'text', delta: 'more' }, 0)).toEqual([]);

    const [action] = boundEvent({
      kind: 'action',
      action: { id: 'i'.repeat(5_000), tool: 'write', name: 'n'.repeat(5_000), path: 'p'.repeat(50_000), status: 'failed', diff: 'd'.repeat(10_000_000), error: 'e'.repeat(100_000) },
    });
    expect(AgentEvent.safeParse(action).success).toBe(true);
    const message = { type: 'agent_message', turnId: 't', event: action };
    expect(SandboxToServer.safeParse(message).success).toBe(true);
    expect(Buffer.byteLength(JSON.stringify(message))).toBeLessThan(MAX_BRIDGE_FRAME_BYTES);
    expect(action!.kind === 'action' && action!.action.diff!.length).toBeLessThanOrEqual(MAX_ACTION_DIFF + 200);
  });
});

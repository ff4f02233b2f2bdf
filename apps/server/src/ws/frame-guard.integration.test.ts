import type { AddressInfo } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { DEFAULT_FRAME_LIMITS, type Frame, type FrameLimits, type GuardedConnection, guardConnection } from './frame-guard.js';

const log = pino({ level: 'silent' }) as unknown as FastifyBaseLogger;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `condition` holds (checked every 10 ms), for at most `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(10);
  }
}

/** A masked client text frame built by hand (mask key 0), so many can go out in one TCP write. */
function rawTextFrame(text: string) {
  const payload = Buffer.from(text);
  if (payload.length >= 126) throw new Error('short frames only');
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

type Server = {
  url: string;
  /** Frames the handler got, in order. */
  handled: Frame[];
  /** Frames the server's socket emitted (read), handled or not. */
  received: () => number;
  connection: () => GuardedConnection;
  socket: () => WebSocket;
  closed: Promise<void>;
};

let servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const server of servers) {
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  }
  servers = [];
});

/** A real `ws` server whose one connection goes through the guard, with `handle` as its handler. */
async function startServer(limits: Partial<FrameLimits>, handle: (frame: Frame, connection: GuardedConnection) => Promise<void> = async () => {}) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(wss);
  await new Promise((resolve) => wss.once('listening', resolve));
  const handled: Frame[] = [];
  let received = 0;
  let connection: GuardedConnection | undefined;
  let serverSocket: WebSocket | undefined;
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  wss.on('connection', (socket) => {
    serverSocket = socket;
    socket.on('message', () => received++);
    socket.on('close', markClosed);
    connection = guardConnection(socket, {
      limits: { ...DEFAULT_FRAME_LIMITS, maxFrameBytes: 64 * 1024, ...limits },
      log,
      handle: async (frame) => {
        handled.push(frame);
        await handle(frame, connection!);
      },
    });
  });
  const server: Server = {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    handled,
    received: () => received,
    connection: () => connection!,
    socket: () => serverSocket!,
    closed,
  };
  return server;
}

async function connect(server: Server) {
  const client = new WebSocket(server.url);
  client.on('error', () => {}); // a cut socket is expected in some tests
  await new Promise((resolve, reject) => {
    client.once('open', resolve);
    client.once('unexpected-response', reject);
  });
  await until(() => server.connection() !== undefined);
  return client;
}

function closeOf(client: WebSocket) {
  return new Promise<{ code: number; reason: string }>((resolve) =>
    client.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
}

const texts = (frames: Frame[]) => frames.map((frame) => frame.data?.toString());

describe('guardConnection', () => {
  it('handles a burst at once and the rest at the rate, in order, dropping nothing', async () => {
    const server = await startServer({ framesPerSecond: 20, burst: 5, maxThrottledFrames: 1_000 });
    const client = await connect(server);
    const started = performance.now();
    const sent = Array.from({ length: 15 }, (_, index) => `frame ${index}`);
    for (const text of sent) client.send(text);
    await until(() => server.handled.length === 15);
    // 10 frames past the burst at 20 per second take at least half a second.
    expect(performance.now() - started).toBeGreaterThanOrEqual(450);
    expect(texts(server.handled)).toEqual(sent);
    expect(server.connection().violation).toBeUndefined();
    expect(client.readyState).toBe(WebSocket.OPEN);
    client.close();
  });

  it('closes a client that keeps sending faster than the rate with 1008', async () => {
    const server = await startServer({ framesPerSecond: 20, burst: 5, maxThrottledFrames: 10 });
    const client = await connect(server);
    const closing = closeOf(client);
    for (let index = 0; index < 100; index++) client.send(`frame ${index}`);
    expect(await closing).toEqual({ code: 1008, reason: 'sending too fast' });
    expect(server.connection().violation).toBe('sending too fast');
    // The burst and the frames that waited their turn before the limit, no more.
    expect(server.handled.length).toBeLessThanOrEqual(5 + 10 + 1);
  });

  it('stops reading while its queue is full and reads on when it drains (backpressure)', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const server = await startServer(
      { framesPerSecond: 10_000, burst: 10_000, pauseAtFrames: 4, maxQueuedFrames: 100_000, maxQueuedBytes: 64 * 1024 * 1024 },
      () => gate,
    );
    const client = await connect(server);
    // One frame in the handler, four waiting.
    for (let index = 0; index < 5; index++) client.send(`first ${index}`);
    await until(() => server.received() === 5);
    expect(server.socket().isPaused).toBe(true);

    const more = Array.from({ length: 2_000 }, (_, index) => `more ${index}`);
    for (const text of more) client.send(text);
    await sleep(300);
    // Not read while paused: they wait in the kernel's buffers, not in the server's memory.
    expect(server.received()).toBe(5);

    open();
    await until(() => server.handled.length === 2_005);
    expect(texts(server.handled)).toEqual([...Array.from({ length: 5 }, (_, index) => `first ${index}`), ...more]);
    expect(server.socket().isPaused).toBe(false);
    expect(server.connection().violation).toBeUndefined();
    expect(client.readyState).toBe(WebSocket.OPEN);
    client.close();
  });

  it('closes with 1008 when more frames arrive at once than its queue holds', async () => {
    const server = await startServer({ pauseAtFrames: 10, maxQueuedFrames: 50 }, () => new Promise(() => {}));
    const client = await connect(server);
    const closing = closeOf(client);
    // 500 frames in one TCP write: all of them are read before reading can stop.
    const frames = Buffer.concat(Array.from({ length: 500 }, (_, index) => rawTextFrame(`frame ${index}`)));
    (client as unknown as { _socket: { write(data: Buffer): void } })._socket.write(frames);
    expect(await closing).toEqual({ code: 1008, reason: 'too many frames waiting' });
    expect(server.handled.length).toBe(1);
  });

  it('closes a client that does not read what it needs (1008), holding at most the bound in memory', async () => {
    const maxBufferedBytes = 1024 * 1024;
    const big = 'x'.repeat(256 * 1024);
    let mostBuffered = 0;
    const server = await startServer(
      { framesPerSecond: 10_000, burst: 10_000, maxBufferedBytes, closeGraceMs: 200 },
      async (_frame, connection) => {
        connection.send(big);
        mostBuffered = Math.max(mostBuffered, server.socket().bufferedAmount);
      },
    );
    const client = await connect(server);
    client.pause(); // it never reads
    for (let index = 0; index < 400 && server.connection().violation === undefined; index++) {
      client.send(`frame ${index}`);
      await sleep(1);
    }
    await server.closed;
    expect(server.connection().violation).toBe('not reading');
    expect(mostBuffered).toBeLessThanOrEqual(maxBufferedBytes);
  });

  it('drops replies to a client that does not read them, and keeps the connection', async () => {
    const big = 'x'.repeat(256 * 1024);
    let mostBuffered = 0;
    const server = await startServer(
      { framesPerSecond: 10_000, burst: 10_000, replyBufferBytes: 512 * 1024, maxBufferedBytes: 4 * 1024 * 1024 },
      async (_frame, connection) => {
        connection.reply(big);
        mostBuffered = Math.max(mostBuffered, server.socket().bufferedAmount);
      },
    );
    const client = await connect(server);
    client.pause();
    for (let index = 0; index < 100; index++) client.send(`frame ${index}`);
    await until(() => server.handled.length === 100);
    expect(mostBuffered).toBeLessThanOrEqual(512 * 1024 + big.length + 10);
    expect(server.connection().violation).toBeUndefined();

    let replies = 0;
    client.on('message', () => replies++);
    client.resume();
    client.send('last');
    await until(() => server.handled.length === 101);
    await sleep(200);
    expect(replies).toBeGreaterThan(0);
    expect(replies).toBeLessThan(101);
    expect(client.readyState).toBe(WebSocket.OPEN);
    client.close();
  });

  it('passes a frame over maxFrameBytes on as its size only, in its turn', async () => {
    const server = await startServer({ maxFrameBytes: 10 });
    const client = await connect(server);
    client.send('short');
    client.send('x'.repeat(11));
    client.send('after');
    await until(() => server.handled.length === 3);
    expect(server.handled.map((frame) => [frame.data?.toString() ?? null, frame.byteLength])).toEqual([
      ['short', 5],
      [null, 11],
      ['after', 5],
    ]);
    client.close();
  });
});

import { randomBytes } from 'node:crypto';
import { MAX_FRAME_BYTES, MAX_FRAME_PAYLOAD_BYTES } from '@cutroom/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type RunningServer, startServer } from '../e2e/harness.js';
import { openSocket, signUp } from './attacker.js';

/**
 * A hostile client on `/ws` (issue 9, item 6): it floods without reading, sends frames
 * nested deep enough to overflow a recursive parser, puts objects where strings go, and
 * sends frames over the size cap. The server must stay responsive to everyone else and
 * answer each abuse with a typed error or a close code (1008 policy, 1009 too big).
 */
describe('the WebSocket gateway under a hostile client', () => {
  let server: RunningServer;
  let cookie: string;

  beforeAll(async () => {
    server = await startServer({ SESSION_POOL_SIZE: '0' });
    ({ cookie } = await signUp(server, { email: `flood-${randomBytes(4).toString('hex')}@example.com`, name: 'Flood' }));
  });
  afterAll(async () => server?.stop());

  /** The raw socket: these tests read, pause and close it themselves. */
  const connect = async () => (await openSocket(server, cookie)).socket;

  function nextMessage(socket: WebSocket, timeoutMs = 10_000) {
    return new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply')), timeoutMs);
      socket.once('message', (data) => {
        clearTimeout(timer);
        resolve(JSON.parse(String(data)));
      });
    });
  }

  async function exchange(socket: WebSocket, frame: string) {
    const reply = nextMessage(socket);
    socket.send(frame);
    return reply;
  }

  function closed(socket: WebSocket, timeoutMs = 20_000) {
    return new Promise<{ code: number; reason: string }>((resolve, reject) => {
      if (socket.readyState === WebSocket.CLOSED) return reject(new Error('already closed'));
      const timer = setTimeout(() => reject(new Error('not closed')), timeoutMs);
      socket.on('error', () => {}); // a reset after the close frame is fine
      socket.once('close', (code, reason) => {
        clearTimeout(timer);
        resolve({ code, reason: String(reason) });
      });
    });
  }

  /** One health check, with a generous timeout: it must answer, however slowly. */
  async function health() {
    const started = performance.now();
    const response = await fetch(`${server.baseUrl}/api/health`, { signal: AbortSignal.timeout(5_000) });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    return performance.now() - started;
  }

  it('closes a client that floods without reading (1008), and health answers throughout', async () => {
    const flooder = await connect();
    const flooderClosed = closed(flooder, 60_000);
    flooder.pause(); // it never reads what the server sends back
    const bystander = await connect();

    let flooding = true;
    const latencies: number[] = [];
    const checks = (async () => {
      while (flooding) {
        latencies.push(await health());
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    // 200k small frames that each earn an error reply, bounded in count and time.
    const frame = JSON.stringify({ type: 'nope' });
    const deadline = Date.now() + 20_000;
    let sent = 0;
    while (sent < 200_000 && Date.now() < deadline && flooder.readyState === WebSocket.OPEN) {
      flooder.send(frame);
      sent++;
      if (sent % 1_000 === 0) {
        // Let the health checks run, and do not buffer without bound on this side either.
        await new Promise((resolve) => setTimeout(resolve, flooder.bufferedAmount > 4 * 1024 * 1024 ? 20 : 0));
      }
    }
    // Keep checking a while after the flood, then stop.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    flooding = false;
    await checks;

    // Another client's connection still works.
    expect(await exchange(bystander, '{"type":"nope"}')).toMatchObject({ type: 'error', code: 'invalid_message' });
    bystander.close();

    // The server closed it for policy (1008). A flooder that never reads may not get to read
    // that close frame before its socket is cut (1006): the server's log says why either way.
    flooder.resume();
    const { code } = await flooderClosed;
    expect([1008, 1006]).toContain(code);
    const policyCloses = server.output.join('').split('\n').filter((line) => line.includes('websocket client closed for policy'));
    expect(policyCloses.length).toBeGreaterThan(0);
    expect(JSON.parse(policyCloses[0]!).reason).toMatch(/too many frames waiting|sending too fast|not reading/);
    expect(latencies.length).toBeGreaterThan(0);
    console.info(`ws flood: ${sent} frames sent; /api/health ${latencies.length} calls, worst ${Math.round(Math.max(...latencies))} ms`);
  });

  it('tells a reading client that keeps sending too fast why, and closes it (1008)', async () => {
    const socket = await connect();
    const socketClosed = closed(socket);
    const codes: string[] = [];
    socket.on('message', (data) => codes.push(JSON.parse(String(data)).code));
    // Far above the rate, spread over many writes rather than one.
    for (let index = 0; index < 3_000 && socket.readyState === WebSocket.OPEN; index++) {
      socket.send('{"type":"nope"}');
      if (index % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect((await socketClosed).code).toBe(1008);
    expect(codes).toContain('rate_limited');
    // Frames before the limit were answered, in full.
    expect(codes[0]).toBe('invalid_message');
  });

  it('answers JSON nested 100,000 deep with a typed error, quickly, and stays usable', async () => {
    const socket = await connect();
    for (const frame of ['['.repeat(100_000) + ']'.repeat(100_000), '{"type":' + '{"a":'.repeat(40_000) + '1' + '}'.repeat(40_001)]) {
      const reply = await exchange(socket, frame);
      expect(reply).toMatchObject({ type: 'error', code: 'invalid_message' });
      expect(reply.message).toMatch(/nest/i);
    }
    expect(await exchange(socket, '{"type":"nope"}')).toMatchObject({ type: 'error', code: 'invalid_message' });
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
  });

  it('answers a `type` that is not a string with a typed error that does not echo it', async () => {
    const socket = await connect();
    for (const frame of ['{"type":{}}', '{"type":{"toString":1}}', '{"type":{"toString":{"valueOf":1}}}', '{"type":["session:start"]}', '{"type":42}', '{"type":null}']) {
      const reply = await exchange(socket, frame);
      expect(reply, frame).toMatchObject({ type: 'error', code: 'invalid_message' });
      expect(reply.message, frame).not.toMatch(/object|session:start|42|null/);
    }
    const named = await exchange(socket, '{"type":"nope"}');
    expect(named.message).toContain('"nope"');
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
  });

  it('answers frames over MAX_FRAME_BYTES with frame_too_large, and closes with 1009 past the payload cap', async () => {
    const socket = await connect();
    const over = JSON.stringify({ type: 'message:send', text: 'x'.repeat(MAX_FRAME_BYTES), clientMessageId: 'a' });
    expect(await exchange(socket, over)).toMatchObject({ type: 'error', code: 'frame_too_large' });
    expect(socket.readyState).toBe(WebSocket.OPEN);

    const socketClosed = closed(socket);
    socket.send('x'.repeat(MAX_FRAME_PAYLOAD_BYTES + 1));
    expect((await socketClosed).code).toBe(1009);
  });
});

import { PROTOCOL_VERSION } from '@cutroom/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type TestServer, startTestServer } from '../testing/test-server.js';

describe('WebSocket gateway', () => {
  let server: TestServer;
  let cookie: string;
  let projectId: string;

  beforeAll(async () => {
    server = await startTestServer();
    ({ cookie, projectId } = await server.signupWithProject('WS'));
  });
  afterAll(async () => server.close());

  const wsUrl = () => server.baseUrl.replace('http', 'ws') + '/ws';

  function connect(headers: Record<string, string>) {
    return new Promise<WebSocket>((resolve, reject) => {
      const socket = new WebSocket(wsUrl(), { headers });
      socket.once('open', () => resolve(socket));
      socket.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
      socket.once('error', reject);
    });
  }

  function nextMessage(socket: WebSocket) {
    return new Promise<any>((resolve) => socket.once('message', (data) => resolve(JSON.parse(String(data)))));
  }

  async function exchange(socket: WebSocket, frame: string | Buffer) {
    const reply = nextMessage(socket);
    socket.send(frame);
    return reply;
  }

  it('refuses an upgrade from a foreign origin, with no origin, or without a session', async () => {
    await expect(connect({ origin: 'https://evil.example', cookie })).rejects.toThrow('HTTP 403');
    await expect(connect({ cookie })).rejects.toThrow('HTTP 403');
    await expect(connect({ origin: 'null', cookie })).rejects.toThrow('HTTP 403');
    await expect(connect({ origin: server.baseUrl })).rejects.toThrow('HTTP 401');
  });

  it('answers rubbish with typed errors and keeps the connection', async () => {
    const socket = await connect({ origin: server.baseUrl, cookie });
    const cases: [string | Buffer, string][] = [
      ['not json', 'invalid_message'],
      ['{"type":"nope"}', 'invalid_message'],
      ['[]', 'invalid_message'],
      ['['.repeat(100_000) + ']'.repeat(100_000), 'invalid_message'],
      ['{"type":' + '{"a":'.repeat(40_000) + '1' + '}'.repeat(40_001), 'invalid_message'],
      ['{"type":{"toString":1}}', 'invalid_message'],
      ['{"type":{}}', 'invalid_message'],
      ['null', 'invalid_message'],
      [JSON.stringify({ type: 'session:start', projectId: 42 }), 'invalid_message'],
      [Buffer.from([1, 2, 3]), 'invalid_message'],
      [JSON.stringify({ type: 'message:send', text: 'x'.repeat(300 * 1024), clientMessageId: 'a' }), 'frame_too_large'],
      [JSON.stringify({ type: 'message:send', text: '', clientMessageId: 'a' }), 'invalid_message'],
      [JSON.stringify({ type: 'message:send', text: 'hi' }), 'invalid_message'],
      [JSON.stringify({ type: 'message:send', text: 'hi', clientMessageId: 'a', autoFix: 'yes' }), 'invalid_message'],
      [JSON.stringify({ type: 'message:send', text: 'hi', clientMessageId: 'a', extra: 1 }), 'invalid_message'],
      [JSON.stringify({ type: 'message:send', text: 'hi', clientMessageId: 'a' }), 'sessions_unavailable'],
    ];
    for (const [frame, code] of cases) {
      const reply = await exchange(socket, frame);
      expect(reply, String(frame).slice(0, 40)).toMatchObject({ type: 'error', code, message: expect.any(String) });
    }
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
  });

  it('checks the protocol version at session:start with a typed error', async () => {
    const socket = await connect({ origin: server.baseUrl, cookie });
    const reply = await exchange(socket, JSON.stringify({ type: 'session:start', projectId, protocolVersion: PROTOCOL_VERSION + 1 }));
    expect(reply).toMatchObject({ type: 'error', code: 'protocol_mismatch', serverProtocolVersion: PROTOCOL_VERSION });
    const old = await exchange(socket, JSON.stringify({ type: 'session:start', projectId, protocolVersion: 0 }));
    expect(old.message).toMatch(/reload/);
    socket.close();
  });

  it("accepts a matching handshake for the user's own project only", async () => {
    const socket = await connect({ origin: server.baseUrl, cookie });
    const own = await exchange(socket, JSON.stringify({ type: 'session:start', projectId, protocolVersion: PROTOCOL_VERSION }));
    expect(own).toMatchObject({ type: 'error', code: 'sessions_unavailable' });
    socket.close();

    const intruder = await server.signup();
    const other = await connect({ origin: server.baseUrl, cookie: intruder.cookie });
    const foreign = await exchange(other, JSON.stringify({ type: 'session:start', projectId, protocolVersion: PROTOCOL_VERSION }));
    expect(foreign).toMatchObject({ type: 'error', code: 'not_found' });
    other.close();
  });
});

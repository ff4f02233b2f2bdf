import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import WebSocket from 'ws';
import type { RunningServer } from '../e2e/harness.js';

/** How an outside client talks to the server under test: REST with its Origin, and `/ws`. */
type Server = Pick<RunningServer, 'baseUrl'>;

/** Signs up a new user (random email and password unless given) and returns its email and session cookie. */
export async function signUp(server: Server, fields: { email?: string; password?: string; name?: string } = {}) {
  const email = fields.email ?? `user-${randomBytes(4).toString('hex')}@example.com`;
  const response = await fetch(`${server.baseUrl}/api/auth/signup`, {
    method: 'POST',
    headers: { origin: server.baseUrl, 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: fields.password ?? randomBytes(12).toString('hex'), name: fields.name ?? 'Attacker' }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return { email, cookie: response.headers.get('set-cookie')!.split(';', 1)[0]! };
}

/** A JSON request with the server's own Origin, and the cookie if given; the body is read and parsed. */
export async function callApi(server: Server, method: string, route: string, options: { cookie?: string; body?: unknown } = {}) {
  const response = await fetch(`${server.baseUrl}${route}`, {
    method,
    headers: { origin: server.baseUrl, ...(options.cookie ? { cookie: options.cookie } : {}), ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  return { status: response.status, text, json: text ? JSON.parse(text) : undefined, headers: response.headers };
}

/** Creates a project and returns its id. */
export async function newProject(server: Server, cookie: string, name: string) {
  return (await callApi(server, 'POST', '/api/projects', { cookie, body: { name } })).json.project.id as string;
}

export type Socket = Awaited<ReturnType<typeof openSocket>>;

/** Opens `/ws` with the server's Origin and the cookie; keeps every message; `waitMs` is `waitFor`'s default timeout. */
export async function openSocket(server: Server, cookie: string, { waitMs = 90_000 } = {}) {
  const socket = new WebSocket(`${server.baseUrl.replace('http', 'ws')}/ws`, { headers: { origin: server.baseUrl, cookie } });
  const messages: any[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  socket.on('error', () => {});
  await once(socket, 'open');
  return {
    socket,
    messages,
    send: (message: unknown) => socket.send(JSON.stringify(message)),
    /** Sends a frame and resolves with the next message, whatever it is. */
    async exchange(frame: unknown, timeoutMs = 15_000) {
      const reply = new Promise<any>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reply')), timeoutMs);
        socket.once('message', (data) => {
          clearTimeout(timer);
          resolve(JSON.parse(String(data)));
        });
      });
      socket.send(JSON.stringify(frame));
      return reply;
    },
    /** The first message (seen or to come) that matches. */
    async waitFor(match: (message: any) => boolean, timeoutMs = waitMs): Promise<any> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(messages).slice(-1_500)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: () => socket.terminate(),
  };
}

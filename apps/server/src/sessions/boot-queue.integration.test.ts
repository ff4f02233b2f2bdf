import { PROTOCOL_VERSION } from '@cutroom/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../testing/processes.js';
import { type TestServer, startTestServer } from '../testing/test-server.js';
import { type TestClient, connectClient } from '../testing/ws-client.js';

/** How long one boot may take: on a loaded 2-core machine, a minute and more. */
const BOOT_MS = 180_000;

/** Real sessions, real sandboxes, one boot at a time (SANDBOX_BOOT_CONCURRENCY=1). */
describe('boots in line', { timeout: 4 * BOOT_MS }, () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  /** Every message both clients got, in the order they arrived at the test. */
  const arrivals: Array<{ client: number; message: any }> = [];

  const open = async () => {
    const { cookie, projectId } = await server.signupWithProject('In line');
    const client = await connectClient(server.baseUrl, cookie);
    const index = clients.push(client) - 1;
    client.socket.on('message', (data) => arrivals.push({ client: index, message: JSON.parse(String(data)) }));
    return { client, index, projectId };
  };
  const start = (client: TestClient, projectId: string) => client.send({ type: 'session:start', projectId, protocolVersion: PROTOCOL_VERSION });

  beforeAll(async () => {
    // No pool: every session boots its own sandbox. Admission off: this machine's memory must not decide the test.
    server = await startTestServer({ sessions: { poolSize: 0, graceMs: 0 }, environment: { SANDBOX_BOOT_CONCURRENCY: '1', SANDBOX_ADMIT_MB: '0' } });
  });
  afterAll(async () => {
    for (const client of clients) await client.close();
    await server?.close();
  });

  it('boots two sessions opened at once one after the other; the second is told its place', async () => {
    const first = await open();
    const second = await open();
    start(first.client, first.projectId);
    start(second.client, second.projectId);
    await Promise.all([first, second].map(({ client }) => client.next((message) => message.type === 'session:ready', 2 * BOOT_MS)));

    const readyOrder = arrivals.filter(({ message }) => message.type === 'session:ready').map(({ client }) => client);
    const queued = (index: number) => arrivals.filter(({ client, message }) => client === index && message.type === 'session:queued').map(({ message }) => message);
    // Whichever the server took first boots at once and never waits; the other waits first in line.
    const [served, waited] = queued(first.index).length === 0 ? [first.index, second.index] : [second.index, first.index];
    expect(queued(served)).toEqual([]);
    const places = queued(waited).map(({ position, reason }) => ({ position, ...(reason ? { reason } : {}) }));
    expect(places[0]).toEqual({ position: 1, reason: 'slots' });
    // Its boot began only when it left the line (position 0), and it was ready after the other.
    expect(places.at(-1)).toEqual({ position: 0 });
    expect(readyOrder).toEqual([served, waited]);
    const readyIndex = arrivals.findIndex(({ client, message }) => client === waited && message.type === 'session:ready');
    const leftLine = arrivals.findIndex(({ client, message }) => client === waited && message.type === 'session:queued' && message.position === 0);
    expect(leftLine).toBeLessThan(readyIndex);
  });

  it('a session whose tab leaves while it waits gives up its place and never boots', async () => {
    const running = await open();
    const leaving = await open();
    const staying = await open();
    start(running.client, running.projectId);
    await running.client.next((message) => message.type === 'session:status' && message.state === 'starting', BOOT_MS);
    start(leaving.client, leaving.projectId);
    await leaving.client.next((message) => message.type === 'session:queued' && message.position === 1, BOOT_MS);
    start(staying.client, staying.projectId);
    await staying.client.next((message) => message.type === 'session:queued' && message.position === 2, BOOT_MS);
    const leavingSession = (await leaving.client.next((message) => message.type === 'session:joined', BOOT_MS)).sessionId as string;
    // The tab closes: with no grace period, its session ends at once and leaves the line.
    await leaving.client.close();
    await staying.client.next((message) => message.type === 'session:queued' && message.position === 1, BOOT_MS);
    await waitFor(() => !server.sessions!.list().some((session) => session.id === leavingSession), BOOT_MS);
    await staying.client.next((message) => message.type === 'session:ready', 2 * BOOT_MS);
    // Every sandbox there is serves a live session: none was booted for the one that left.
    const live = server.sessions!.list().filter((session) => session.state === 'running');
    expect(live.map((session) => session.id)).not.toContain(leavingSession);
    expect(server.driver!.list().length).toBe(live.length);
  });
});

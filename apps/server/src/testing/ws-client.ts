import WebSocket from 'ws';

/** A test client for `/ws`: keeps every message and waits for the ones a test expects. */
export async function connectClient(baseUrl: string, cookie: string) {
  const socket = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws`, { headers: { origin: baseUrl, cookie } });
  const messages: any[] = [];
  const waiters: { predicate: (message: any) => boolean; resolve: (message: any) => void }[] = [];
  socket.on('message', (data) => {
    const message = JSON.parse(String(data));
    messages.push(message);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    messages,
    send(message: unknown) {
      socket.send(JSON.stringify(message));
    },
    /** The first message (already received or still to come) that matches. */
    next(predicate: (message: any) => boolean, timeoutMs = 60_000): Promise<any> {
      const seen = messages.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = { predicate, resolve };
        waiters.push(waiter);
        setTimeout(() => {
          const index = waiters.indexOf(waiter);
          if (index >= 0) {
            waiters.splice(index, 1);
            reject(new Error(`timed out; got ${JSON.stringify(messages).slice(0, 1_000)}`));
          }
        }, timeoutMs);
      });
    },
    close() {
      return new Promise<void>((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) return resolve();
        socket.once('close', () => resolve());
        socket.close();
      });
    },
  };
}

export type TestClient = Awaited<ReturnType<typeof connectClient>>;

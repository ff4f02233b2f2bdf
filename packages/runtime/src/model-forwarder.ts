import net from 'node:net';
import { checkSocketPath } from './listen-target.js';

export type ModelForwarder = {
  /** `http://127.0.0.1:<port>`: the agent's way to the model proxy. */
  origin: string;
  close(): Promise<void>;
};

/**
 * The agent's way out to the model proxy from a sandbox with no network: a port on the
 * sandbox's own loopback whose connections are piped, byte for byte, to the server's
 * socket for this sandbox (`sock/model.sock`). It reads nothing and adds nothing: the
 * proxy on the other end checks the token and the request.
 */
export async function startModelForwarder(socketPath: string): Promise<ModelForwarder> {
  checkSocketPath(socketPath);
  const connections = new Set<net.Socket>();
  // No Nagle on the loopback leg: a stream's last small chunk (the model's final event)
  // would otherwise wait for the agent's delayed ACK, some 40 ms on every turn.
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect(socketPath);
    connections.add(client).add(upstream);
    const forget = () => {
      connections.delete(client);
      connections.delete(upstream);
    };
    // Either end going away (or failing) takes the other with it.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => {
      upstream.destroy();
      forget();
    });
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const connection of connections) connection.destroy();
        server.close(() => resolve());
      }),
  };
}

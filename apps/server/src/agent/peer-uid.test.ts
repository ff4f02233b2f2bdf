import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { peerUid, procAddress } from './peer-uid.js';

describe('peer uid of a loopback connection', () => {
  it('writes addresses the way /proc/net/tcp{,6} prints them', () => {
    expect(procAddress('127.0.0.1', 8080, 'v4')).toBe('0100007F:1F90');
    expect(procAddress('::ffff:127.0.0.1', 80, 'v4')).toBe('0100007F:0050');
    expect(procAddress('::ffff:127.0.0.1', 80, 'v6')).toBe('0000000000000000FFFF00000100007F:0050');
    expect(procAddress('::1', 443, 'v6')).toBe('00000000000000000000000001000000:01BB');
    expect(procAddress('::1', 443, 'v4')).toBeNull();
    expect(procAddress('not an address', 1, 'v6')).toBeNull();
  });

  it('finds the uid of the socket at the other end, only on the row that pairs both ends', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'peer-uid-'));
    try {
      const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
      const row = (local: string, remote: string, uid: number) => `   0: ${local} ${remote} 01 00000000:00000000 00:00000000 00000000 ${uid} 0 1 1 0000000000000000 20 4 30 10 -1\n`;
      await writeFile(
        path.join(dir, 'tcp'),
        header +
          row('0100007F:1F90', '0100007F:C350', 0) + // the server's end of the connection
          row('0100007F:C350', '0100007F:0016', 777) + // same peer port, another connection
          row('0100007F:C350', '0100007F:1F90', 1234), // the peer's end
      );
      await writeFile(path.join(dir, 'tcp6'), header);
      const tables = { tcp: path.join(dir, 'tcp'), tcp6: path.join(dir, 'tcp6') };
      const connection = { remoteAddress: '127.0.0.1', remotePort: 0xc350, localAddress: '127.0.0.1', localPort: 8080 };
      expect(await peerUid(connection, tables)).toBe(1234);
      expect(await peerUid({ ...connection, remotePort: 1 }, tables)).toBeNull();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the real tables: a connection from this process is this process\'s uid', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    try {
      expect(await peerUid(await accepted)).toBe(process.getuid!());
    } finally {
      client.destroy();
      server.close();
    }
  });
});

import { readFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import os from 'node:os';

/**
 * The uid of the process at the other end of a loopback TCP connection, read from the
 * kernel's socket tables (`/proc/net/tcp`, `/proc/net/tcp6`): the peer's socket is the
 * row whose local address is the connection's remote address (and whose remote address
 * is our end), and that row names the uid that made the socket. Null when no row
 * matches (the peer already went away, or is in another network namespace).
 *
 * Used by the model proxy to accept a session's token only from its sandbox's uid.
 */
export async function peerUid(
  connection: { remoteAddress?: string; remotePort?: number; localAddress?: string; localPort?: number },
  tables = { tcp: '/proc/net/tcp', tcp6: '/proc/net/tcp6' },
): Promise<number | null> {
  const { remoteAddress, remotePort, localAddress, localPort } = connection;
  if (!remoteAddress || !remotePort || !localAddress || !localPort) return null;
  const peer = { v4: procAddress(remoteAddress, remotePort, 'v4'), v6: procAddress(remoteAddress, remotePort, 'v6') };
  const ours = { v4: procAddress(localAddress, localPort, 'v4'), v6: procAddress(localAddress, localPort, 'v6') };
  for (const [family, file] of [['v4', tables.tcp], ['v6', tables.tcp6]] as const) {
    if (!peer[family] || !ours[family]) continue;
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid …
      const fields = line.trim().split(/\s+/);
      if (fields[1] === peer[family] && fields[2] === ours[family] && fields[7] !== undefined) return Number(fields[7]);
    }
  }
  return null;
}

const littleEndian = os.endianness() === 'LE';

/**
 * An address and port as the kernel prints them in `/proc/net/tcp{,6}`: each 32-bit word
 * of the address in host byte order as hex, then `:` and the port in hex. IPv4 and
 * IPv4-mapped addresses have both forms (a dual-stack socket is listed in tcp6); null
 * where a form does not apply.
 */
export function procAddress(address: string, port: number, family: 'v4' | 'v6'): string | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const v4 = isIPv4(address) ? address : mapped;
  let bytes: number[];
  if (family === 'v4') {
    if (!v4) return null;
    bytes = v4.split('.').map(Number);
  } else {
    const expanded = v4 ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4.split('.').map(Number)] : expandIPv6(address);
    if (!expanded) return null;
    bytes = expanded;
  }
  const words: string[] = [];
  for (let at = 0; at < bytes.length; at += 4) {
    const word = bytes.slice(at, at + 4);
    words.push((littleEndian ? word.reverse() : word).map((byte) => byte.toString(16).padStart(2, '0')).join(''));
  }
  return `${words.join('').toUpperCase()}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

function expandIPv6(address: string): number[] | null {
  const plain = address.split('%')[0]!;
  const [head, tail] = plain.includes('::') ? plain.split('::') : [plain, undefined];
  const part = (text: string | undefined) => (text ? text.split(':') : []);
  const groups = part(head);
  const rest = part(tail);
  if (tail === undefined && groups.length !== 8) return null;
  const all = [...groups, ...Array<string>(8 - groups.length - rest.length).fill('0'), ...rest];
  if (all.length !== 8 || all.some((group) => !/^[0-9a-f]{1,4}$/i.test(group))) return null;
  return all.flatMap((group) => {
    const value = Number.parseInt(group, 16);
    return [value >> 8, value & 0xff];
  });
}

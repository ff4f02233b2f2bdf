import { crc32, deflateRawSync, gzipSync } from 'node:zlib';

/**
 * Zips and tars written byte by byte, for tests of code that must refuse what a normal
 * tool would never write: `..` and absolute names, backslashes, NUL bytes, links, devices,
 * entries that inflate a thousandfold. Nothing here checks anything.
 */
export type TestArchiveEntry = {
  /** The name exactly as stored (a folder's ends with `/`). */
  name: string | Buffer;
  data?: string | Buffer;
  type?: 'file' | 'directory' | 'symlink' | 'hard link' | 'character device' | 'fifo';
  /** Link target (symlinks, hard links). */
  linkname?: string;
  /** Permission bits (default 0o644, folders 0o755). */
  mode?: number;
};

const bytes = (value: string | Buffer | undefined) => (value === undefined ? Buffer.alloc(0) : Buffer.isBuffer(value) ? value : Buffer.from(value));

const zipTypeBits: Record<NonNullable<TestArchiveEntry['type']>, number> = {
  file: 0o100000,
  directory: 0o040000,
  symlink: 0o120000,
  'hard link': 0o100000,
  'character device': 0o020000,
  fifo: 0o010000,
};

/**
 * A zip of `entries` (deflated unless `store`), made on "Unix" with each entry's mode and
 * type in its external attributes, as Info-ZIP writes them. A symlink's data is its target.
 */
export function makeZip(entries: TestArchiveEntry[], options: { store?: boolean } = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = bytes(entry.name);
    const type = entry.type ?? (name.at(-1) === 0x2f ? 'directory' : 'file');
    const data = type === 'symlink' ? bytes(entry.linkname ?? entry.data) : bytes(entry.data);
    const method = options.store || data.length === 0 ? 0 : 8;
    const packed = method === 8 ? deflateRawSync(data, { level: 9 }) : data;
    const checksum = crc32(data);
    const mode = zipTypeBits[type] | (entry.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644));
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(checksum, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, packed);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(checksum, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((mode << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + packed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

const tarTypeFlags: Record<NonNullable<TestArchiveEntry['type']>, string> = {
  file: '0',
  directory: '5',
  symlink: '2',
  'hard link': '1',
  'character device': '3',
  fifo: '6',
};

function octal(value: number, length: number) {
  return `${value.toString(8).padStart(length - 1, '0')}\0`;
}

/** A ustar archive of `entries` (names up to 100 bytes), uncompressed. */
export function makeTar(entries: TestArchiveEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const name = bytes(entry.name);
    if (name.length > 100) throw new Error('makeTar: names up to 100 bytes');
    const type = entry.type ?? (name.at(-1) === 0x2f ? 'directory' : 'file');
    const data = type === 'file' ? bytes(entry.data) : Buffer.alloc(0);
    const header = Buffer.alloc(512);
    name.copy(header, 0);
    header.write(octal(entry.mode ?? (type === 'directory' ? 0o755 : 0o644), 8), 100, 'latin1');
    header.write(octal(0, 8), 108, 'latin1');
    header.write(octal(0, 8), 116, 'latin1');
    header.write(octal(data.length, 12), 124, 'latin1');
    header.write(octal(0, 12), 136, 'latin1');
    header.write('        ', 148, 'latin1');
    header.write(tarTypeFlags[type], 156, 'latin1');
    if (entry.linkname) header.write(entry.linkname, 157, 'utf8');
    header.write('ustar\u000000', 257, 'latin1');
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/**
 * A gzipped tar of `entries`, at zlib's default level: level 9 spends minutes' worth of
 * search on low-entropy data (9 MiB of two letters took 27 s) for a few percent.
 */
export function makeTarGz(entries: TestArchiveEntry[]): Buffer {
  return gzipSync(makeTar(entries));
}

import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const require = createRequire(import.meta.url);

/** Remotion's ffmpeg (the compositor package of this platform), to make media for tests. */
export function compositorFfmpeg(): { ffmpeg: string; env: Record<string, string> } {
  const dir = path.dirname(require.resolve(`@remotion/compositor-${process.platform}-${process.arch}-gnu/package.json`));
  return { ffmpeg: path.join(dir, 'ffmpeg'), env: { LD_LIBRARY_PATH: dir } };
}

/** Runs Remotion's ffmpeg with `args` (quiet, overwriting). */
export async function ffmpeg(args: string[]): Promise<void> {
  const { ffmpeg: binary, env } = compositorFfmpeg();
  await execFileAsync(binary, ['-hide_banner', '-loglevel', 'error', '-y', ...args], { env, timeout: 120_000 });
}

/** Raw 16-bit mono samples of a 440 Hz tone (Remotion's ffmpeg has no lavfi sources). */
async function toneFile(file: string, seconds: number) {
  const rate = 44_100;
  const samples = Buffer.alloc(Math.round(rate * seconds) * 2);
  for (let at = 0; at < samples.length / 2; at++) samples.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 440 * at) / rate) * 12_000), at * 2);
  await writeFile(file, samples);
  return ['-f', 's16le', '-ar', String(rate), '-ac', '1', '-i', file];
}

/** A video of `seconds`, `width`×`height`, one flat colour (`#rrggbb`), with a tone when `audio`. */
export async function makeVideo(file: string, options: { seconds?: number; width?: number; height?: number; color?: string; fps?: number; audio?: boolean; codec?: string } = {}) {
  const { seconds = 2, width = 320, height = 240, color = '#ff0000', fps = 30, audio = true } = options;
  const ext = path.extname(file);
  const codec = options.codec ?? (ext === '.webm' ? 'libvpx' : 'libx264');
  const audioCodec = ext === '.webm' ? 'libopus' : 'aac';
  const rgb = [1, 3, 5].map((at) => Number.parseInt(color.slice(at, at + 2), 16)) as [number, number, number];
  // One still, looped (Remotion's ffmpeg has neither lavfi sources nor the rawvideo demuxer).
  const frames = `${file}.png`;
  await writeFile(frames, pngBytes(width, height, rgb));
  try {
    await ffmpeg([
      '-loop', '1', '-framerate', String(fps), '-t', String(seconds), '-i', frames,
      ...(audio ? [...(await toneFile(`${file}.pcm`, seconds)), '-c:a', audioCodec] : []),
      '-c:v', codec, ...(codec === 'libx264' ? ['-pix_fmt', 'yuv420p'] : []), '-shortest', file,
    ]);
  } finally {
    await rm(frames, { force: true });
    await rm(`${file}.pcm`, { force: true });
  }
}

/** A tone of `seconds` in the format the name says (.mp3, .wav, .aac, .ogg, .m4a). */
export async function makeAudio(file: string, seconds = 2) {
  const ext = path.extname(file);
  const codec: Record<string, string[]> = { '.mp3': ['-c:a', 'libmp3lame'], '.wav': ['-c:a', 'pcm_s16le'], '.aac': ['-c:a', 'aac', '-f', 'adts'], '.ogg': ['-c:a', 'libopus', '-ar', '48000'], '.m4a': ['-c:a', 'aac'] };
  try {
    await ffmpeg([...(await toneFile(`${file}.pcm`, seconds)), ...(codec[ext] ?? []), file]);
  } finally {
    await rm(`${file}.pcm`, { force: true });
  }
}

/** A PNG of one colour, made without any library (zlib and CRC by hand). */
export function pngBytes(width: number, height: number, rgb: [number, number, number] = [255, 0, 0]): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Buffer) => {
    let c = 0xffffffff;
    for (const byte of bytes) c = crcTable[(c ^ byte) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([length, body, sum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 2;
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3).map((_, at) => rgb[at % 3]!)]);
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * A decompression bomb: a PNG that says it is `side`×`side` pixels (64 K × 64 K: 4 gigapixels,
 * 12 GB of pixels) in a few kilobytes of header and IDAT.
 */
export function pngBomb(side = 65_535): Buffer {
  const png = pngBytes(1, 1);
  png.writeUInt32BE(side, 16);
  png.writeUInt32BE(side, 20);
  return png;
}

/** A TrueType font of this machine (DejaVu or Liberation, from Debian's fonts), or null. */
export function systemFont(): string | null {
  for (const dir of ['/usr/share/fonts/truetype/dejavu', '/usr/share/fonts/truetype/liberation']) {
    try {
      const file = readdirSync(dir).find((name) => name.endsWith('.ttf'));
      if (file) return path.join(dir, file);
    } catch {
      // next
    }
  }
  return null;
}

/**
 * A WOFF 1.0 font made from a TrueType or OpenType file (`sfnt`): the same tables, each
 * zlib-compressed when that makes it smaller, behind WOFF's header and table directory.
 */
export function woffFromSfnt(sfnt: Buffer): Buffer {
  const count = sfnt.readUInt16BE(4);
  const align = (value: number) => (value + 3) & ~3;
  const tables = Array.from({ length: count }, (_, index) => {
    const at = 12 + index * 16;
    const offset = sfnt.readUInt32BE(at + 8);
    const length = sfnt.readUInt32BE(at + 12);
    const original = sfnt.subarray(offset, offset + length);
    const compressed = deflateSync(original);
    return { tag: sfnt.subarray(at, at + 4), checksum: sfnt.readUInt32BE(at + 4), length, data: compressed.length < length ? compressed : original };
  });
  let offset = 44 + 20 * count;
  const directory = Buffer.alloc(20 * count);
  tables.forEach((table, index) => {
    table.tag.copy(directory, index * 20);
    directory.writeUInt32BE(offset, index * 20 + 4);
    directory.writeUInt32BE(table.data.length, index * 20 + 8);
    directory.writeUInt32BE(table.length, index * 20 + 12);
    directory.writeUInt32BE(table.checksum, index * 20 + 16);
    offset += align(table.data.length);
  });
  const header = Buffer.alloc(44);
  header.write('wOFF', 0, 'latin1');
  sfnt.copy(header, 4, 0, 4);
  header.writeUInt32BE(offset, 8);
  header.writeUInt16BE(count, 12);
  header.writeUInt32BE(12 + 16 * count + tables.reduce((sum, table) => sum + align(table.length), 0), 16);
  header.writeUInt16BE(1, 20);
  const body = tables.map((table) => Buffer.concat([table.data, Buffer.alloc(align(table.data.length) - table.data.length)]));
  return Buffer.concat([header, directory, ...body]);
}

/** Writes `bytes` to `file` (a small helper for fixtures). */
export const writeBytes = (file: string, bytes: Buffer | string) => writeFile(file, bytes);

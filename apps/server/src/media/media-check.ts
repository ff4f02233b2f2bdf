import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileTypeFromFile } from 'file-type';
import * as fontkit from 'fontkit';
import sharp, { type Metadata } from 'sharp';
import { type MediaKind, MediaName } from '@cutroom/protocol';
import { AppError } from '../errors.js';
import { PROBE_UID, bubblewrapArguments, bubblewrapWorks } from '../sessions/drivers/local/bubblewrap.js';
import { SETPRIV, switchUserArguments } from '../sessions/drivers/local/sandbox-users.js';

/** The most pixels an image may have (a 50-megapixel photo passes; a decompression bomb does not). */
export const MAX_IMAGE_PIXELS = 64 * 1024 * 1024;
/** SVGs are read whole into memory to be decoded. */
export const MAX_SVG_BYTES = 8 * 1024 * 1024;
/** Fonts are read whole into memory to be parsed: no real font comes near this. */
export const MAX_FONT_BYTES = 32 * 1024 * 1024;
/** The longest a probe of one file may take. */
const PROBE_TIMEOUT_MS = 30_000;

/** Each type Cutroom takes: its kind, the type it is served as, and the names a file of it may have. */
const FORMATS: Record<string, { kind: MediaKind; mime: string; extensions: string[]; label: string }> = {
  png: { kind: 'image', mime: 'image/png', extensions: ['png'], label: 'a PNG image' },
  jpg: { kind: 'image', mime: 'image/jpeg', extensions: ['jpg', 'jpeg'], label: 'a JPEG image' },
  webp: { kind: 'image', mime: 'image/webp', extensions: ['webp'], label: 'a WebP image' },
  gif: { kind: 'image', mime: 'image/gif', extensions: ['gif'], label: 'a GIF image' },
  svg: { kind: 'image', mime: 'image/svg+xml', extensions: ['svg'], label: 'an SVG image' },
  mp4: { kind: 'video', mime: 'video/mp4', extensions: ['mp4', 'm4v'], label: 'an MP4 video' },
  webm: { kind: 'video', mime: 'video/webm', extensions: ['webm'], label: 'a WebM video' },
  mov: { kind: 'video', mime: 'video/quicktime', extensions: ['mov', 'qt'], label: 'a QuickTime (MOV) video' },
  mp3: { kind: 'audio', mime: 'audio/mpeg', extensions: ['mp3'], label: 'an MP3 file' },
  wav: { kind: 'audio', mime: 'audio/wav', extensions: ['wav'], label: 'a WAV file' },
  aac: { kind: 'audio', mime: 'audio/aac', extensions: ['aac'], label: 'an AAC file' },
  m4a: { kind: 'audio', mime: 'audio/mp4', extensions: ['m4a', 'aac'], label: 'an AAC (M4A) file' },
  ogg: { kind: 'audio', mime: 'audio/ogg', extensions: ['ogg', 'oga', 'opus'], label: 'an Ogg file' },
  ttf: { kind: 'font', mime: 'font/ttf', extensions: ['ttf'], label: 'a TrueType font' },
  otf: { kind: 'font', mime: 'font/otf', extensions: ['otf'], label: 'an OpenType font' },
  woff2: { kind: 'font', mime: 'font/woff2', extensions: ['woff2'], label: 'a WOFF2 font' },
  woff: { kind: 'font', mime: 'font/woff', extensions: ['woff'], label: 'a WOFF font' },
};

/** Extensions of `file-type`'s answers that are one of ours under another name. */
const SAME_AS: Record<string, string> = { m4v: 'mp4', qt: 'mov', oga: 'ogg', opus: 'ogg', m4a: 'm4a' };

/** What the uploads accept, for the file picker and the messages. */
export const ACCEPTED_EXTENSIONS = [...new Set(Object.values(FORMATS).flatMap((format) => format.extensions))];

/** What a checked file is, as the manifest records it. */
export type CheckedMedia = {
  kind: MediaKind;
  mime: string;
  width?: number;
  height?: number;
  durationSeconds?: number;
  fps?: number;
  videoCodec?: string;
  audioCodec?: string;
  hasAudio?: boolean;
  fontFamily?: string;
};

const refused = (message: string) => new AppError('media_type_refused', message, 415);
const unreadable = (message: string) => new AppError('media_unreadable', message, 422);

/**
 * A media file's name from the name the browser gave: the last segment of any path it
 * holds (browsers send bare names, some tools do not), refused (never repaired) when it
 * is not one `public/` can hold safely.
 */
export function mediaName(given: string): string {
  if (given.includes('\0')) throw new AppError('media_name_refused', 'The file name holds a NUL character; rename the file and upload it again.', 400);
  const base = given.normalize('NFC').split(/[\\/]/).at(-1) ?? '';
  if (given.split(/[\\/]/).some((segment) => segment === '..')) throw new AppError('media_name_refused', `"${base}" came with ".." in its path; upload the file by itself.`, 400);
  const parsed = MediaName.safeParse(base);
  if (!parsed.success) {
    const shown = base.replace(/[\p{Cc}\p{Cf}]/gu, '?').slice(0, 120);
    throw new AppError('media_name_refused', `"${shown}" cannot be a media file's name: ${parsed.error.issues[0]?.message ?? 'it is not valid'} Rename the file and upload it again.`, 400);
  }
  return parsed.data;
}

/** Whether the start of a file reads as an SVG document (file-type does not detect text formats). */
async function looksLikeSvg(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const head = buffer.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '').trimStart();
    if (!/^<(\?xml|svg|!--|!DOCTYPE svg)/i.test(head)) return false;
    return /<svg[\s>]/i.test(head);
  } finally {
    await handle.close();
  }
}

/** The format of a file by its bytes (null: none Cutroom takes). */
async function detectFormat(file: string): Promise<string | null> {
  const found = await fileTypeFromFile(file).catch(() => undefined);
  if (found && found.ext !== 'xml' && found.ext !== 'svg') {
    const ext = SAME_AS[found.ext] ?? found.ext;
    if (found.ext === 'mp4' && found.mime === 'audio/mp4') return 'm4a';
    return FORMATS[ext] ? ext : null;
  }
  if (await looksLikeSvg(file)) return 'svg';
  return null;
}

/**
 * Checks an uploaded file by its content: the type from its bytes (it must match the
 * name's extension), then decoded (images, under a pixel limit read from the header
 * before any pixel is expanded), probed (video and audio, with Remotion's ffprobe, confined)
 * or parsed (fonts). Throws a typed AppError the user can act on.
 */
export async function checkMedia(file: string, name: string, size: number): Promise<CheckedMedia> {
  if (size === 0) throw unreadable(`"${name}" is empty.`);
  const extension = path.extname(name).slice(1).toLowerCase();
  const format = await detectFormat(file);
  if (!format) {
    const known = Object.values(FORMATS).some((entry) => entry.extensions.includes(extension));
    throw refused(
      known
        ? `"${name}" is named like ${FORMATS[Object.keys(FORMATS).find((key) => FORMATS[key]!.extensions.includes(extension))!]!.label}, but its content is not one. It may be damaged, or another kind of file renamed.`
        : `"${name}" is not a kind of file Cutroom takes. Upload images (PNG, JPEG, WebP, GIF, SVG), video (MP4, WebM, MOV), audio (MP3, WAV, AAC, OGG) or fonts (TTF, OTF, WOFF2).`,
    );
  }
  const spec = FORMATS[format]!;
  if (!spec.extensions.includes(extension)) {
    throw refused(`"${name}" holds ${spec.label}, but its name says otherwise. Rename it to end in .${spec.extensions[0]} and upload it again.`);
  }
  switch (spec.kind) {
    case 'image':
      if (format === 'svg' && size > MAX_SVG_BYTES) throw new AppError('media_too_large', `"${name}" is larger than ${MAX_SVG_BYTES / (1024 * 1024)} MiB, more than an SVG may be.`, 413);
      // An SVG is decoded from memory: librsvg then has no folder to resolve a reference against (nothing beside it is read).
      return { kind: 'image', mime: spec.mime, ...(await checkImage(format === 'svg' ? await readFile(file) : file, name)) };
    case 'font':
      return { kind: 'font', mime: spec.mime, ...(await checkFont(file, name, size)) };
    default:
      return { kind: spec.kind, mime: spec.mime, ...(await checkAudioVisual(file, name, spec.kind)) };
  }
}

async function checkImage(file: string | Buffer, name: string) {
  let meta: Metadata;
  try {
    // The header only: dimensions before any pixel is decoded.
    meta = await sharp(file, { limitInputPixels: false, animated: true }).metadata();
  } catch {
    throw unreadable(`"${name}" could not be read as an image; it may be damaged or cut short.`);
  }
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (!width || !height) throw unreadable(`"${name}" does not say how large it is.`);
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new AppError(
      'media_too_large',
      `"${name}" is ${width}×${height} pixels, more than the ${Math.round(MAX_IMAGE_PIXELS / 1_000_000)} megapixels an image may have. Scale it down and upload it again.`,
      413,
    );
  }
  try {
    // Decoded whole (first frame), under the same limit: a file cut short or lying about its size fails here.
    await sharp(file, { limitInputPixels: MAX_IMAGE_PIXELS, failOn: 'error' }).resize(32, 32, { fit: 'inside' }).raw().toBuffer();
  } catch {
    throw unreadable(`"${name}" could not be decoded as an image; it may be damaged or cut short.`);
  }
  const delays = meta.delay ?? [];
  const durationSeconds = (meta.pages ?? 1) > 1 && delays.length ? delays.reduce((sum: number, delay: number) => sum + delay, 0) / 1000 : undefined;
  return { width, height, ...(durationSeconds ? { durationSeconds } : {}) };
}

async function checkFont(file: string, name: string, size: number) {
  if (size > MAX_FONT_BYTES) throw new AppError('media_too_large', `"${name}" is larger than ${MAX_FONT_BYTES / (1024 * 1024)} MiB, more than a font may be.`, 413);
  try {
    const font = fontkit.create(await readFile(file));
    const face = 'fonts' in font ? font.fonts[0] : font;
    const family = face?.familyName;
    if (!family || !face || face.numGlyphs < 1) throw new Error('no family or glyphs');
    return { fontFamily: family.slice(0, 200) };
  } catch {
    throw unreadable(`"${name}" could not be read as a font; it may be damaged or cut short.`);
  }
}

const require = createRequire(import.meta.url);

/** Remotion's own ffmpeg and ffprobe (the compositor package of this platform): no system ffmpeg needed. */
export function compositorBinaries(): { dir: string; ffprobe: string; ffmpeg: string } {
  for (const name of [`@remotion/compositor-${process.platform}-${process.arch}-gnu`, `@remotion/compositor-${process.platform}-${process.arch}-musl`, `@remotion/compositor-${process.platform}-${process.arch}`]) {
    try {
      const dir = path.dirname(require.resolve(`${name}/package.json`));
      return { dir, ffprobe: path.join(dir, 'ffprobe'), ffmpeg: path.join(dir, 'ffmpeg') };
    } catch {
      // the next name
    }
  }
  throw new Error(`Remotion's compositor for ${process.platform}-${process.arch} is not installed`);
}

/**
 * Runs one of the compositor's binaries on `file`, walled in by bubblewrap where it works
 * (no network, an empty root with only the binary's folder; as a uid of its own when the
 * server is root): the parsers of every container format read a stranger's bytes here.
 * The file is not in the wall: it comes in as standard input, an open descriptor (`fd:`,
 * seekable), so the prober needs no right to any path of the server's.
 */
async function runConfined(binary: string, args: string[], file: string, dir: string): Promise<string> {
  let command = [binary, ...args];
  if (bubblewrapWorks()) {
    command = [...bubblewrapArguments({ readWrite: [], readOnly: [dir], tmpBytes: 16 * 1024 * 1024, cwd: '/tmp' }), ...command];
    if (existsSync(SETPRIV)) command = [SETPRIV, ...(process.getuid?.() === 0 ? switchUserArguments(PROBE_UID) : ['--no-new-privs']), '--', ...command];
  }
  const input = await open(file, 'r');
  try {
    return await new Promise<string>((resolve, reject) => {
      const child = spawn(command[0]!, command.slice(1), { stdio: [input.fd, 'pipe', 'pipe'], env: { LD_LIBRARY_PATH: dir, PATH: '/usr/bin:/bin' } });
      const out: Buffer[] = [];
      let size = 0;
      let errors = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS);
      child.stdout!.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > 4 * 1024 * 1024) child.kill('SIGKILL');
        else out.push(chunk);
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        if (errors.length < 4_000) errors += chunk.toString('utf8');
      });
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
        else reject(new Error(`${path.basename(binary)} exited with ${code ?? signal}: ${errors.trim().slice(0, 500)}`));
      });
    });
  } finally {
    await input.close();
  }
}

type ProbeStream = { codec_type?: string; codec_name?: string; width?: number; height?: number; avg_frame_rate?: string; r_frame_rate?: string; duration?: string; disposition?: { attached_pic?: number } };

const rate = (value: string | undefined) => {
  const [top, bottom] = (value ?? '').split('/').map(Number);
  return top && bottom ? Math.round((top / bottom) * 1000) / 1000 : undefined;
};

async function checkAudioVisual(file: string, name: string, kind: MediaKind) {
  const { dir, ffprobe, ffmpeg } = compositorBinaries();
  let probe: { streams?: ProbeStream[]; format?: { duration?: string } };
  try {
    probe = JSON.parse(await runConfined(ffprobe, ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', 'fd:'], file, dir)) as typeof probe;
  } catch {
    throw unreadable(`"${name}" could not be read as ${kind === 'video' ? 'a video' : 'audio'}; it may be damaged or cut short.`);
  }
  const streams = probe.streams ?? [];
  const video = streams.find((stream) => stream.codec_type === 'video' && !stream.disposition?.attached_pic);
  const audio = streams.find((stream) => stream.codec_type === 'audio');
  const durationSeconds = Number(probe.format?.duration ?? video?.duration ?? audio?.duration);
  if (kind === 'video' && (!video?.width || !video.height)) throw unreadable(`"${name}" holds no video picture.`);
  if (kind === 'audio' && !audio) throw unreadable(`"${name}" holds no sound.`);
  if (!Number.isFinite(durationSeconds) || durationSeconds <= 0) throw unreadable(`"${name}" does not say how long it is; it may be damaged or cut short.`);
  // The last second decoded: a file cut short (its index whole, its data not) fails here, cheaply.
  try {
    await runConfined(ffmpeg, ['-v', 'error', '-xerror', '-sseof', '-1', '-i', 'fd:', '-c:v', 'rawvideo', '-c:a', 'pcm_s16le', '-f', 'null', '-'], file, dir);
  } catch {
    throw unreadable(`"${name}" is cut short or damaged: its end could not be decoded.`);
  }
  if (kind === 'audio') return { durationSeconds, audioCodec: audio!.codec_name ?? 'unknown' };
  return {
    width: video!.width!,
    height: video!.height!,
    durationSeconds,
    ...(rate(video!.avg_frame_rate) ?? rate(video!.r_frame_rate) ? { fps: rate(video!.avg_frame_rate) ?? rate(video!.r_frame_rate) } : {}),
    videoCodec: video!.codec_name ?? 'unknown',
    hasAudio: Boolean(audio),
    ...(audio ? { audioCodec: audio.codec_name ?? 'unknown' } : {}),
  };
}

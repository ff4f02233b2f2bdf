import { copyFile, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpeg, makeAudio, makeVideo, pngBomb, pngBytes, systemFont, woffFromSfnt } from '@cutroom/testkit';
import sharp from 'sharp';
import { checkMedia, mediaName } from './media-check.js';

let dir: string;
const file = (name: string) => path.join(dir, name);
const check = async (name: string, on = name) => checkMedia(file(on), name, (await stat(file(on))).size);
const code = (promise: Promise<unknown>) => promise.then(() => 'accepted', (error: { code?: string }) => error.code);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-media-check-'));
  await writeFile(file('logo.png'), pngBytes(40, 20));
  await sharp(file('logo.png')).jpeg().toFile(file('photo.jpg'));
  await sharp(file('logo.png')).webp().toFile(file('photo.webp'));
  await sharp(file('logo.png')).gif().toFile(file('anim.gif'));
  await writeFile(file('mark.svg'), '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32"><rect width="64" height="32" fill="red"/></svg>');
  await makeVideo(file('clip.mp4'), { seconds: 2 });
  await makeVideo(file('clip.webm'), { seconds: 1 });
  await makeVideo(file('clip.mov'), { seconds: 1, audio: false });
  for (const name of ['tone.mp3', 'tone.wav', 'tone.aac', 'tone.ogg']) await makeAudio(file(name), 1);
  await copyFile(systemFont()!, file('brand.ttf'));
  await writeFile(file('brand.woff'), woffFromSfnt(await readFile(systemFont()!)));
  // A real WOFF2 (Brotli, transformed tables): the web app's own Inter.
  await copyFile(fileURLToPath(new URL('../../../../node_modules/@fontsource-variable/inter/files/inter-latin-wght-normal.woff2', import.meta.url)), file('inter.woff2'));
}, 120_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('checkMedia', () => {
  it('takes each kind by its bytes and reads what it is', async () => {
    expect(await check('logo.png')).toEqual({ kind: 'image', mime: 'image/png', width: 40, height: 20 });
    expect(await check('photo.jpg')).toMatchObject({ kind: 'image', mime: 'image/jpeg', width: 40 });
    expect(await check('photo.jpeg', 'photo.jpg')).toMatchObject({ mime: 'image/jpeg' });
    expect(await check('photo.webp')).toMatchObject({ mime: 'image/webp' });
    expect(await check('anim.gif')).toMatchObject({ mime: 'image/gif' });
    expect(await check('mark.svg')).toMatchObject({ kind: 'image', mime: 'image/svg+xml', width: 64, height: 32 });
    const video = await check('clip.mp4');
    expect(video).toMatchObject({ kind: 'video', mime: 'video/mp4', width: 320, height: 240, fps: 30, videoCodec: 'h264', hasAudio: true, audioCodec: 'aac' });
    expect(video.durationSeconds).toBeCloseTo(2, 0);
    expect(await check('clip.webm')).toMatchObject({ kind: 'video', mime: 'video/webm', videoCodec: 'vp8' });
    expect(await check('clip.mov')).toMatchObject({ kind: 'video', mime: 'video/quicktime', hasAudio: false });
    expect(await check('tone.mp3')).toMatchObject({ kind: 'audio', mime: 'audio/mpeg', audioCodec: 'mp3' });
    expect(await check('tone.wav')).toMatchObject({ kind: 'audio', mime: 'audio/wav' });
    expect(await check('tone.aac')).toMatchObject({ kind: 'audio', audioCodec: 'aac' });
    expect(await check('tone.ogg')).toMatchObject({ kind: 'audio', mime: 'audio/ogg', audioCodec: 'opus' });
    expect(await check('brand.ttf')).toMatchObject({ kind: 'font', mime: 'font/ttf', fontFamily: expect.stringMatching(/DejaVu|Liberation/) });
    expect(await check('brand.woff')).toMatchObject({ kind: 'font', mime: 'font/woff', fontFamily: expect.stringMatching(/DejaVu|Liberation/) });
    expect(await check('inter.woff2')).toMatchObject({ kind: 'font', mime: 'font/woff2', fontFamily: expect.stringMatching(/Inter/) });
    // The name must say what the bytes are.
    expect(await code(check('inter.ttf', 'inter.woff2'))).toBe('media_type_refused');
  }, 60_000);

  it('refuses a wrong type under a right name, an empty file, a cut video, a bomb, and text', async () => {
    await writeFile(file('page.png'), '<html><script>alert(1)</script></html>');
    expect(await code(check('page.png'))).toBe('media_type_refused');
    expect(await code(check('logo.jpg', 'logo.png'))).toBe('media_type_refused');
    expect(await code(check('clip.mp3', 'clip.mp4'))).toBe('media_type_refused');
    await writeFile(file('empty.png'), '');
    expect(await code(check('empty.png'))).toBe('media_unreadable');
    await copyFile(file('clip.mp4'), file('cut.mp4'));
    await truncate(file('cut.mp4'), Math.floor((await stat(file('cut.mp4'))).size / 2));
    expect(await code(check('cut.mp4'))).toBe('media_unreadable');
    // Its index first (faststart), its data cut: the probe reads a whole video, the decode of its end does not.
    await ffmpeg(['-i', file('clip.mp4'), '-c', 'copy', '-movflags', '+faststart', file('faststart.mp4')]);
    await copyFile(file('faststart.mp4'), file('cut-data.mp4'));
    await truncate(file('cut-data.mp4'), Math.floor((await stat(file('faststart.mp4'))).size * 0.6));
    expect(await code(check('cut-data.mp4'))).toBe('media_unreadable');
    await writeFile(file('bomb.png'), pngBomb());
    expect(await code(check('bomb.png'))).toBe('media_too_large');
    await copyFile(file('logo.png'), file('cut.png'));
    await truncate(file('cut.png'), 60);
    expect(await code(check('cut.png'))).toBe('media_unreadable');
    await writeFile(file('notes.txt'), 'hello');
    expect(await code(check('notes.txt'))).toBe('media_type_refused');
    await writeFile(file('broken.ttf'), Buffer.concat([Buffer.from([0, 1, 0, 0]), Buffer.alloc(200)]));
    expect(await code(check('broken.ttf'))).toMatch(/media_unreadable|media_type_refused/);
  }, 60_000);
});

describe('mediaName', () => {
  it('keeps ordinary names and refuses paths, NUL, control characters and dot names', () => {
    expect(mediaName('Screen Recording 2026-12-01 at 10.00.00.mov')).toBe('Screen Recording 2026-12-01 at 10.00.00.mov');
    expect(mediaName('C:\\Users\\me\\logo@2x.png')).toBe('logo@2x.png');
    expect(mediaName('café.png')).toBe('café.png');
    for (const bad of ['../secret.png', 'a/../b.png', 'x\0.png', '.env', 'line\nbreak.png', '', 'a..b.png', 'name.png ', '\u202Egnp.exe']) {
      expect(() => mediaName(bad), bad).toThrow(expect.objectContaining({ code: 'media_name_refused' }));
    }
  });
});

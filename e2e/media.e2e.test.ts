import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Scenario, type ScriptedModelServer, makeAudio, makeVideo, pngBytes, startScriptedModelServer, systemFont } from '@cutroom/testkit';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, launchBrowser, newPerson, screenshot, startServer } from './harness.js';
import { AuthPage, ProjectExports, ProjectHistory, ProjectsPage, previewFrame } from './pages.js';

/** The logo: flat green, so a rendered frame's pixels say whether it is in. */
const GREEN: [number, number, number] = [0x10, 0xc0, 0x40];

const ROOT = `import { AbsoluteFill, Audio, Composition, Img, OffthreadVideo, Sequence, staticFile } from 'remotion';

const Logo: React.FC = () => (
  <AbsoluteFill style={{ backgroundColor: '#000' }}>
    <Img src={staticFile('logo.png')} style={{ width: '100%', height: '100%', objectFit: 'fill' }} />
    <Audio src={staticFile('tone.mp3')} />
    <Sequence name="Clip" from={15}>
      <OffthreadVideo src={staticFile('clip.mp4')} muted style={{ width: 80 }} />
    </Sequence>
  </AbsoluteFill>
);

export const RemotionRoot: React.FC = () => <Composition id="Logo" component={Logo} durationInFrames={30} fps={30} width={320} height={180} />;
`;

const scenario: Scenario = {
  rules: [
    // First: every prompt names logo.png in its media list.
    {
      match: 'frame 5',
      steps: [{ tools: [{ tool: 'frame', frame: 5, composition: 'Logo' }] }, { expectImage: true, text: 'Frame 5 is all green.' }],
    },
    {
      match: 'logo',
      steps: [{ tools: [{ tool: 'write', path: 'src/Root.tsx', content: ROOT }] }, { text: 'The logo now fills the frame.' }],
    },
  ],
  fallback: [{ text: 'Done.' }],
};

/**
 * Media in the browser: every kind uploaded through the Assets panel (and one refused),
 * an image attached from the composer, the scripted agent told about both and placing the
 * image, the preview showing it, an export whose pixels are the image's, the agent looking
 * at a frame of the video, and a restore
 * that brings removed media back.
 */
describe('media in the browser', () => {
  let model: ScriptedModelServer;
  let server: RunningServer;
  let browser: Browser;
  let person: BrowserContext;
  let page: Page;
  let files = '';
  const preview = () => previewFrame(page);
  const assetItems = () => page.getByTestId('asset-item');

  beforeAll(async () => {
    files = await mkdtemp(path.join(os.tmpdir(), 'cutroom-media-e2e-'));
    await writeFile(path.join(files, 'logo.png'), pngBytes(64, 36, GREEN));
    await makeVideo(path.join(files, 'clip.mp4'), { seconds: 1 });
    await makeAudio(path.join(files, 'tone.mp3'), 1);
    await copyFile(systemFont()!, path.join(files, 'brand.ttf'));
    await writeFile(path.join(files, 'fake.png'), 'this is text, not a picture');
    model = await startScriptedModelServer({ scenario });
    server = await startServer({ ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: 'scripted', SESSION_POOL_SIZE: '1' });
    browser = await launchBrowser();
    person = await newPerson(browser, server.baseUrl);
    page = await person.newPage();
    await new AuthPage(page).signUp('Ada Media', 'ada-media@example.com', 'media password 1');
    await new ProjectsPage(page).create('Brand film');
    await preview().getByText('Your video starts here').waitFor({ timeout: 60_000 });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await model?.close();
    if (files) await rm(files, { recursive: true, force: true });
  });

  it('uploads video, audio and a font in the Assets panel, and refuses a fake image with why', async () => {
    await page.getByRole('tab', { name: 'Assets' }).click();
    await page.getByText('No media yet.').waitFor();
    await page.getByTestId('media-file-input').setInputFiles(['clip.mp4', 'tone.mp3', 'brand.ttf', 'fake.png'].map((name) => path.join(files, name)));
    await expect.poll(() => assetItems().count(), { timeout: 60_000 }).toBe(3);
    expect(await assetItems().evaluateAll((items) => items.map((item) => [item.getAttribute('data-name'), item.getAttribute('data-kind')]))).toEqual([
      ['brand.ttf', 'font'],
      ['clip.mp4', 'video'],
      ['tone.mp3', 'audio'],
    ]);
    await page.getByText(/Video · 320×240 · 0:01 · 30 fps/).waitFor();
    const refused = page.getByTestId('upload-item').filter({ hasText: 'fake.png' });
    await refused.getByRole('alert').getByText(/named like a PNG image, but its content is not one/).waitFor();
    await screenshot(page, '50-assets-panel');
    await refused.getByRole('button', { name: 'Dismiss fake.png' }).click();
    await refused.waitFor({ state: 'detached' });
  });

  it('attaches an image from the composer; the agent is told, places it, and the preview shows it', async () => {
    await page.getByRole('tab', { name: 'Chat' }).click();
    await page.getByTestId('composer-file-input').setInputFiles(path.join(files, 'logo.png'));
    await page.getByTestId('attachment').filter({ hasText: 'logo.png' }).waitFor({ timeout: 30_000 });
    await page.getByRole('textbox', { name: 'Message' }).fill('Put this logo full screen');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByText('The logo now fills the frame.').waitFor({ timeout: 60_000 });
    await page.getByTestId('attachment').waitFor({ state: 'detached' });

    // What the model got: the message with its attachment, and every media file described.
    const asked = model.requests.find((request) => request.rule === 'logo');
    expect(asked?.userText).toContain('Put this logo full screen\n\nAttached: logo.png');
    expect(asked?.userText).toMatch(/<project-media>[\s\S]*- clip\.mp4: video \(MP4, h264\), 320×240, 30 fps, 1\.00 s, with sound/);
    expect(asked?.userText).toMatch(/- logo\.png: image \(PNG\), 64×36/);
    expect(asked?.userText).toMatch(/- brand\.ttf: font \(TTF\), family "/);

    // The preview loads the image from public/.
    const image = preview().locator('img[src*="logo.png"]');
    await image.waitFor({ timeout: 60_000 });
    await expect.poll(() => image.evaluate((element: HTMLImageElement) => element.complete && element.naturalWidth), { timeout: 30_000 }).toBe(64);
    // The timeline shows the media by kind; the audio with its waveform.
    const timeline = page.getByRole('group', { name: 'Sequences' });
    await timeline.getByRole('button', { name: /^tone\.mp3, audio, from frame 0, 30 frames/ }).waitFor({ timeout: 30_000 });
    // The video mounts when its sequence plays: seek there.
    await timeline.getByRole('button', { name: /^Clip, from frame 15/ }).click();
    await timeline.getByRole('button', { name: /^clip\.mp4, video, from frame 15/ }).waitFor();
    await timeline.getByRole('button', { name: /^logo\.png, image/ }).waitFor();
    await timeline.getByRole('button', { name: /^tone\.mp3, audio/ }).getByTestId('waveform').waitFor({ timeout: 30_000 });
    await screenshot(page, '51-media-in-preview');

    // Media is served to the preview in ranges (a long video is never fetched whole to seek).
    const ranged = await preview()
      .locator('body')
      .evaluate(async () => {
        const source = document.querySelector<HTMLImageElement>('img[src*="logo.png"]')!.src;
        const response = await fetch(source, { headers: { range: 'bytes=0-7' } });
        return { status: response.status, length: (await response.arrayBuffer()).byteLength };
      });
    // (The frame's origin is opaque, so Content-Range is not readable from it; the status and length say enough.)
    expect(ranged).toEqual({ status: 206, length: 8 });
  });

  it('exports a still whose pixels are the logo', async () => {
    const exports = new ProjectExports(page);
    await exports.open();
    await exports.start({ format: 'PNG still', frame: 0 });
    const item = exports.latest();
    await expect.poll(() => exports.status(item).innerText(), { timeout: 120_000 }).toBe('Done');
    const [download] = await Promise.all([page.waitForEvent('download'), item.getByRole('link', { name: /^Download/ }).click()]);
    const file = path.join(files, 'still.png');
    await download.saveAs(file);
    const png = PNG.sync.read(await readFile(file));
    expect([png.width, png.height]).toEqual([320, 180]);
    for (const [x, y] of [
      [5, 5],
      [160, 90],
      [314, 174],
    ]) {
      const offset = (png.width * y! + x!) * 4;
      const pixel = [...png.data.subarray(offset, offset + 3)];
      pixel.forEach((value, channel) => expect(Math.abs(value - GREEN[channel]!), `pixel ${x},${y}: ${pixel}`).toBeLessThan(12));
    }
    await exports.close();
  });

  it('the agent looks at a frame of the video: the chat says so, and the model got the picture', async () => {
    await page.getByRole('tab', { name: 'Chat' }).click();
    await page.getByRole('textbox', { name: 'Message' }).fill('Look at frame 5 of the video');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByText('Frame 5 is all green.').waitFor({ timeout: 120_000 });
    await page.getByTestId('agent-action').filter({ hasText: 'Looked at a frame of the video' }).waitFor();
    await screenshot(page, '52-agent-looked-at-a-frame');
    // The picture the model was shown: the working copy's frame 5, the logo filling it.
    const shown = model.requests.find((request) => request.rule === 'frame 5' && request.step === 1)?.images.find((image) => image.mediaType === 'image/jpeg');
    expect(shown?.valid).toBe(true);
    const { data, info } = await sharp(shown!.data).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([320, 180]);
    const offset = (info.width * 90 + 160) * info.channels;
    const pixel = [...data.subarray(offset, offset + 3)];
    pixel.forEach((value, channel) => expect(Math.abs(value - GREEN[channel]!), `middle pixel: ${pixel}`).toBeLessThan(16));
  });

  it('removes the logo (a new version), and a restore of the older version brings it back', async () => {
    await page.getByRole('tab', { name: 'Assets' }).click();
    await assetItems().filter({ hasText: 'logo.png' }).getByRole('button', { name: 'Remove logo.png' }).click();
    await assetItems().filter({ hasText: 'logo.png' }).waitFor({ state: 'detached' });
    // The preview's image now fails to load: the file is gone from the working copy.
    await expect.poll(() => preview().locator('img[src*="logo.png"]').evaluate((element: HTMLImageElement) => element.naturalWidth).catch(() => 0), { timeout: 30_000 }).toBe(0);

    const history = new ProjectHistory(page);
    await history.open();
    await history.version('Remove media "logo.png"').waitFor({ timeout: 30_000 });
    // The version's changes name the media file, not Cutroom's manifest.
    await history.select('Remove media "logo.png"');
    const removal = history.changes('Remove media "logo.png"');
    await removal.getByText('public/logo.png').waitFor();
    await removal.getByText(/A media file \(image, [\d.]+ (bytes|KB|MB)\): removed\./).waitFor();
    expect(await removal.getByText('.cutroom/media.json').count()).toBe(0);
    await history.select('Put this logo full screen');
    await history.restore('Put this logo full screen');
    await page.getByRole('tab', { name: 'Assets' }).click();
    await assetItems().filter({ hasText: 'logo.png' }).waitFor({ timeout: 30_000 });
    const image = preview().locator('img[src*="logo.png"]');
    await expect.poll(() => image.evaluate((element: HTMLImageElement) => element.complete && element.naturalWidth).catch(() => 0), { timeout: 60_000 }).toBe(64);
  });
});

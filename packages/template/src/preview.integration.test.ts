import path from 'node:path';
import { chromium } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, describe, expect, it } from 'vitest';
import { templatePreviewDir } from './index.js';

/** The template's Vite entry plays the first composition in the Remotion Player. */
describe('template preview page', () => {
  let server: ViteDevServer | undefined;
  afterAll(async () => server?.close());

  it('serves a Player that shows the title scene, plays it, and reports no error', async () => {
    server = await createServer({
      configFile: path.join(templatePreviewDir, '..', 'vite.config.ts'),
      server: { port: 0, host: '127.0.0.1' },
      logLevel: 'silent',
    });
    await server.listen();
    const url = server.resolvedUrls!.local[0]!;

    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(url);
      await page.getByText('Your video starts here').waitFor({ timeout: 60_000 });
      // The subtitle's <Sequence> starts at frame 30: not there while paused at frame 0 …
      expect(await page.getByText('Describe what you want in the chat').count()).toBe(0);
      // … and there once the video plays (click to play, as a person would).
      await page.mouse.click(640, 300);
      await page.getByText('Describe what you want in the chat').waitFor({ timeout: 15_000 });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

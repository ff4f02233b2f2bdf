import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const screenshotsDir = path.join(root, 'test-results', 'screenshots');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * The built server (`apps/server/dist/main.js`, as `npm start` runs it) in a child
 * process, with a fresh data folder and free ports: each test file gets clean data.
 */
export async function startServer(environment: Record<string, string> = {}) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-e2e-'));
  let port = await freePort();
  let previewPort = await freePort();
  const output: string[] = [];
  let baseUrl = `http://127.0.0.1:${port}`;
  let child: ChildProcess;

  async function launch() {
    child = spawn(process.execPath, [path.join(root, 'apps/server/dist/main.js')], {
      env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), PREVIEW_PORT: String(previewPort), LOG_LEVEL: 'warn', ...environment },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    // Generous: on a loaded 2-core machine a first PGlite open alone has taken 50 s.
    const deadline = Date.now() + 180_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}):\n${output.join('')}`);
      try {
        const response = await fetch(`${baseUrl}/api/health`, { signal: AbortSignal.timeout(2_000) });
        if (response.ok) return;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`server did not become healthy:\n${output.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Signals the server and resolves with its exit code. */
  async function kill(signal: NodeJS.Signals) {
    // Already gone (a test may kill it itself, e.g. SIGKILL: then exitCode stays null and signalCode is set).
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    return exited;
  }

  // A free port is only free until someone else takes it (other test files start servers
  // at the same time): a first start that lost the race tries again on new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (error) {
      if (attempt >= 3 || !String(error).includes('EADDRINUSE')) throw error;
      output.length = 0;
      port = await freePort();
      previewPort = await freePort();
      baseUrl = `http://127.0.0.1:${port}`;
    }
  }
  return {
    get baseUrl() {
      return baseUrl;
    },
    dataDir,
    output,
    get child() {
      return child;
    },
    /** SIGTERM, then start again on the same data and port; resolves with the exit code. */
    async restart() {
      const code = await kill('SIGTERM');
      await launch();
      return code;
    },
    async stop() {
      await kill('SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export type RunningServer = Awaited<ReturnType<typeof startServer>>;

const chromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Headless Chromium. `webgl`: with WebGL on the CPU (ANGLE on SwiftShader), as a person's
 * browser has WebGL on its GPU; these machines have none, and Chromium no longer falls
 * back to SwiftShader by itself.
 */
export async function launchBrowser({ webgl = false }: { webgl?: boolean } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: webgl ? [...chromiumFlags.filter((flag) => flag !== '--disable-gpu'), '--use-angle=swiftshader', '--enable-unsafe-swiftshader'] : chromiumFlags,
  });
}

/** A fresh browser profile (own cookies): one per simulated person. */
export async function newPerson(browser: Browser, baseUrl: string): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1440, height: 900 } });
  context.setDefaultTimeout(15_000);
  return context;
}

export async function screenshot(page: Page, name: string) {
  await mkdir(screenshotsDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotsDir, `${name}.png`) });
}

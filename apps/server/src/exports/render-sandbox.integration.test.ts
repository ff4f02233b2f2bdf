import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { PNG } from 'pngjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { templateProjectDir } from '@cutroom/template';
import { git } from '../repos/git.js';
import { LABELS } from '../sessions/drivers/docker/docker-driver.js';
import { dockerClient } from '../sessions/drivers/docker/docker-engine-client.js';
import { bubblewrapWorks } from '../sessions/drivers/local/bubblewrap.js';
import { dockerEngine } from '../testing/docker-engine.js';
import { livePids } from './render-process.js';
import { type RenderJob, type RenderJobRequest, createRenderSandbox } from './render-sandbox.js';
import { RENDER_LABEL } from './render-wall-docker.js';
import { COMPOSITIONS_FILE, type WorkerMessage } from './worker-protocol.js';

const logger = pino({ level: 'silent' });
const isRoot = process.getuid?.() === 0;
const walls = bubblewrapWorks() && isRoot;
/** The docker wall's engine and image: skipped without one, except under CI=true, where it must run. */
const engine = await dockerEngine().catch((error: unknown) => ({ unavailable: (error as Error).message }));
const docker = 'unavailable' in engine ? null : engine;
/** This run's server label: the reap below must touch only this run's containers. */
const server = `render-test-${randomUUID()}`;

/** A loopback HTTP server on the host that notes every request: what a sandbox must never reach. */
async function canary() {
  const hits: string[] = [];
  const server: Server = createServer((request, response) => {
    hits.push(request.url ?? '');
    response.end('canary');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { port, hits, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Whether the host itself reaches PostgreSQL on 127.0.0.1:5432 (the control for the walled attempts). */
const hostReachesPostgres = () =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(5432, '127.0.0.1');
    socket.once('connect', () => resolve(true)).once('error', () => resolve(false));
    socket.setTimeout(2_000, () => resolve(false));
  }).finally(() => undefined);

/** The template as a project in a git repo of its own, with `edit` applied to its files; returns the git dir and the commit. */
async function projectRepo(root: string, edit?: (dir: string) => Promise<void>) {
  const dir = await mkdtemp(path.join(root, 'project-'));
  await cp(templateProjectDir, dir, { recursive: true, filter: (source) => !source.includes('node_modules') });
  if (edit) await edit(dir);
  await git(['init', '--quiet'], { cwd: dir });
  await git(['add', '-A'], { cwd: dir });
  await git(['commit', '--quiet', '-m', 'project'], { cwd: dir });
  return { repoPath: path.join(dir, '.git'), version: (await git(['rev-parse', 'HEAD'], { cwd: dir })).trim() };
}

describe('render sandbox', () => {
  let dataDir: string;
  let host: Awaited<ReturnType<typeof canary>>;
  const jobsRoot = () => path.join(dataDir, 'tmp', 'renders');

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-render-sandbox-'));
    host = await canary();
  });
  afterAll(async () => {
    await host?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** Runs one job to its end; returns its messages, output and what it left. */
  async function run(sandbox: ReturnType<typeof createRenderSandbox>, request: Omit<RenderJobRequest, 'jobDir' | 'logger' | 'onMessage' | 'chromiumPath' | 'concurrency'>) {
    const messages: WorkerMessage[] = [];
    const jobDir = path.join(jobsRoot(), randomUUID());
    const job: RenderJob = await sandbox.start({
      ...request,
      jobDir,
      chromiumPath: '/usr/bin/chromium',
      concurrency: 1,
      logger,
      onMessage: (message) => messages.push(message),
    });
    const exit = await job.exited;
    const output = await job.output();
    const image = output?.endsWith('.png') ? PNG.sync.read(await readFile(output)) : null;
    const jpeg = output?.endsWith('.jpg') ? await readFile(output) : null;
    const outputInfo = output ? await stat(output) : null;
    const log = await job.logTail();
    await job.dispose();
    return { job, jobDir, exit, messages, output, outputInfo, image, jpeg, log };
  }

  it.runIf(walls)('renders a still inside bubblewrap as a user of its own, and puts the bundle it built into the cache', async () => {
    const sandbox = createRenderSandbox({ driver: 'local', logger });
    const source = await projectRepo(dataDir);
    const bundleDir = path.join(dataDir, 'cache', 'bundles', 'template');
    const target = { kind: 'export', compositionId: 'TitleScene', format: 'png', scale: 0.25, frame: 0 } as const;
    const first = await run(sandbox, { source, bundleDir, outputName: 'output.png', target });
    expect(sandbox.confinement()).toBe('bubblewrap');
    expect(first.messages.map((message) => message.type), first.log).toEqual(['bundle', 'rendering', 'progress', 'done']);
    expect(first.messages[0]).toMatchObject({ type: 'bundle', cached: false });
    expect([first.image?.width, first.image?.height]).toEqual([320, 180]);
    // The output was handed to the server; the job's user ran it, and is gone.
    expect(first.outputInfo?.uid).toBe(0);
    expect(first.job.uid).toBeGreaterThanOrEqual(1_300_000);
    expect(first.job.tmpDir).toBeNull();
    expect(await livePids([first.job.pid])).toEqual([]);
    expect(existsSync(first.jobDir)).toBe(false);
    // The bundle is the server's now, readable by the next job, writable by none.
    const compositions = await stat(path.join(bundleDir, COMPOSITIONS_FILE));
    expect(compositions.uid).toBe(0);
    expect(compositions.mode & 0o777).toBe(0o644);

    const second = await run(sandbox, { source, bundleDir, outputName: 'output.png', target });
    expect(second.messages[0]).toMatchObject({ type: 'bundle', cached: true });
    expect(second.messages.at(-1)).toMatchObject({ type: 'done' });
    expect(second.job.uid).not.toBe(first.job.uid);
  }, 600_000);

  /**
   * Node, run in the wall exactly as the worker is, tries what project code would: the
   * server's files, the database's port, a host service, writing outside its folder.
   */
  const probe = (planted: { secret: string; open: string; writable: string; hostTmp: string }, port: number) => `
    import { readFileSync, writeFileSync } from 'node:fs';
    import net from 'node:net';
    const attempt = (fn) => { try { fn(); return 'ok'; } catch (error) { return error.code ?? String(error); } };
    const connect = (port) => new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve('ok'); });
      socket.once('error', (error) => resolve(error.code));
    });
    process.once('message', async (job) => {
      const results = {
        readSecret: attempt(() => readFileSync(${JSON.stringify(planted.secret)}, 'utf8')),
        readOpen: attempt(() => readFileSync(${JSON.stringify(planted.open)}, 'utf8')),
        writeOutside: attempt(() => writeFileSync(${JSON.stringify(planted.writable)} + '/escaped', 'x')),
        writeHostTmp: attempt(() => writeFileSync(${JSON.stringify(planted.hostTmp)}, 'x')),
        writeOwn: attempt(() => writeFileSync(job.workDir + '/mine', 'x')),
        postgres: await connect(5432),
        hostService: await connect(${port}),
      };
      process.send({ type: 'failed', reason: JSON.stringify(results) }, () => process.exit(0));
    });
  `;

  async function plant() {
    const secret = path.join(dataDir, 'server-secret.txt');
    const open = path.join(dataDir, 'readable-by-all.txt');
    const writable = path.join(dataDir, 'world-writable');
    await writeFile(secret, 'SERVER-SECRET', { mode: 0o600 });
    await writeFile(open, 'READABLE-BY-ALL', { mode: 0o644 });
    await mkdir(writable, { recursive: true });
    await chmod(writable, 0o777);
    const hostTmp = path.join(os.tmpdir(), `cutroom-escape-${randomUUID()}`);
    return { secret, open, writable, hostTmp };
  }

  async function probeResults(bubblewrap: boolean) {
    const planted = await plant();
    const sandbox = createRenderSandbox({ driver: 'local', logger, bubblewrap, workerArgs: ['--input-type=module', '-e', probe(planted, host.port)] });
    const result = await run(sandbox, {
      source: await projectRepo(dataDir),
      bundleDir: path.join(dataDir, 'cache', 'bundles', `probe-${randomUUID()}`),
      outputName: 'output.png',
      target: { kind: 'thumbnail', scale: 0.1 },
    });
    const failed = result.messages.find((message) => message.type === 'failed');
    expect(failed, result.log).toBeDefined();
    const escapedHostTmp = existsSync(planted.hostTmp);
    await rm(planted.hostTmp, { force: true });
    return { results: JSON.parse(failed!.type === 'failed' ? failed!.reason : '{}') as Record<string, string>, planted, escapedHostTmp };
  }

  it.runIf(walls)('walls Node in: no server file, no database, no host service, no write outside its folder', async () => {
    const hits = host.hits.length;
    const { results, planted, escapedHostTmp } = await probeResults(true);
    expect(results).toMatchObject({
      readSecret: 'ENOENT',
      // Readable by every user of the host, but not there at all inside the wall.
      readOpen: 'ENOENT',
      writeOutside: 'ENOENT',
      writeOwn: 'ok',
      // Its own loopback only: nothing listens there.
      postgres: 'ECONNREFUSED',
      hostService: 'ECONNREFUSED',
    });
    // Its /tmp is its own: nothing landed in the host's.
    expect(results.writeHostTmp).toBe('ok');
    expect(escapedHostTmp).toBe(false);
    expect(existsSync(path.join(planted.writable, 'escaped'))).toBe(false);
    expect(host.hits.length).toBe(hits);
  });

  it.runIf(isRoot)('without bubblewrap only the user switch holds: the same probe sees the host (the control for the test above)', async () => {
    const hits = host.hits.length;
    const { results } = await probeResults(false);
    expect(results.readSecret).toBe('EACCES');
    expect(results.readOpen).toBe('ok');
    expect(results.writeOutside).toBe('ok');
    expect(results.hostService).toBe('ok');
    if (await hostReachesPostgres()) expect(results.postgres).toBe('ok');
    expect(host.hits.length).toBe(hits);
  });

  /**
   * A composition that attacks from where project code really runs in a render: Chromium
   * (a fetch of a host service) and Remotion's Node side (its offthread-video proxy
   * downloads any URL the page names: a host service, the database's port). What it
   * reached comes back in the still's width.
   */
  const attackingRoot = (port: number, database: boolean) => `
import { Composition } from 'remotion';
import { TitleScene } from './scenes/TitleScene';

const HOST = 'http://127.0.0.1:${port}';
const proxy = (src: string) => \`\${window.location.origin}/proxy?src=\${encodeURIComponent(src)}&time=0&transparent=false&toneMapped=false\`;
/** Bits of what was reached: 1 a host service from Chromium, 2 from Node, 4 the database from Node. */
async function attack() {
  let reached = 0;
  try {
    await fetch(\`\${HOST}/from-chromium\`, { mode: 'no-cors' });
    reached |= 1;
  } catch {}
  for (const [bit, src] of [[2, \`\${HOST}/from-node.mp4\`], ...(${database} ? [[4, 'http://127.0.0.1:5432/db.mp4']] as const : [])] as const) {
    try {
      const text = await (await fetch(proxy(src))).text();
      if (!text.includes('ECONNREFUSED')) reached |= bit;
    } catch {
      reached |= bit;
    }
  }
  return reached;
}

export const RemotionRoot: React.FC = () => (
  <>
    <Composition id="TitleScene" component={TitleScene} durationInFrames={150} fps={30} width={1280} height={720} />
    <Composition id="Probe" component={() => null} durationInFrames={1} fps={30} width={64} height={64} calculateMetadata={async () => ({ width: 64 + 2 * (await attack()) })} />
  </>
);
`;

  async function attackResults(bubblewrap: boolean) {
    const hits = host.hits.length;
    const sandbox = createRenderSandbox({ driver: 'local', logger, bubblewrap });
    // Only in the wall: outside it, PostgreSQL holds a connection that sends it HTTP for a minute (the probe's control covers 5432).
    const source = await projectRepo(dataDir, (dir) => writeFile(path.join(dir, 'src', 'Root.tsx'), attackingRoot(host.port, bubblewrap)));
    const result = await run(sandbox, {
      source,
      bundleDir: path.join(dataDir, 'cache', 'bundles', `attack-${randomUUID()}`),
      outputName: 'output.png',
      target: { kind: 'export', compositionId: 'Probe', format: 'png', scale: 1, frame: 0 },
    });
    expect(result.messages.at(-1), result.log).toMatchObject({ type: 'done' });
    return { reached: ((result.image?.width ?? 0) - 64) / 2, hits: host.hits.slice(hits) };
  }

  it.runIf(walls)('project code in a composition reaches nothing of the host, from Chromium or from Remotion\'s Node side', async () => {
    const { reached, hits } = await attackResults(true);
    expect(hits).toEqual([]);
    expect(reached).toBe(0);
  }, 300_000);

  it.runIf(isRoot)('the same composition without bubblewrap reaches the host service both ways (the control)', async () => {
    const { reached, hits } = await attackResults(false);
    expect(hits.sort()).toEqual(['/from-chromium', '/from-node.mp4']);
    expect(reached & 3).toBe(3);
  }, 300_000);

  describe('in docker containers', () => {
    const dockerWall = () => createRenderSandbox({ driver: 'docker', logger, docker: { ...docker!, server } });
    const engineClient = () => dockerClient(docker!.dockerHost);
    /** The containers of a job (running or not). */
    const containersOf = async (jobDir: string) =>
      engineClient().listContainers({ all: true, filters: { label: [`${RENDER_LABEL}=${path.basename(jobDir)}`] } });

    /** Two compositions of plain frames: a few (a short video) and many (one to cancel). */
    const framesRoot = `
import { Composition, useCurrentFrame } from 'remotion';
const Frame: React.FC = () => <div style={{ width: '100%', height: '100%', background: \`hsl(\${useCurrentFrame() * 10}, 80%, 50%)\` }} />;
export const RemotionRoot: React.FC = () => (
  <>
    <Composition id="Short" component={Frame} durationInFrames={6} fps={30} width={64} height={64} />
    <Composition id="Long" component={Frame} durationInFrames={9000} fps={30} width={64} height={64} />
  </>
);
`;

    // Always run (never a skip to read past): under CI=true the cases below must run.
    it('can run here where it must (an engine is required under CI=true)', () => {
      if (process.env.CI === 'true') expect(docker, `renders in docker must be tested under CI, but: ${'unavailable' in engine ? engine.unavailable : ''}`).not.toBeNull();
    });

    it.runIf(docker !== null && isRoot)('renders a still in a container as a user of its own, puts the bundle it built into the cache, and leaves no container', async () => {
      const sandbox = dockerWall();
      expect(sandbox.confinement()).toBe('container');
      const source = await projectRepo(dataDir);
      const bundleDir = path.join(dataDir, 'cache', 'bundles', 'template-docker');
      const target = { kind: 'export', compositionId: 'TitleScene', format: 'png', scale: 0.25, frame: 0 } as const;
      const first = await run(sandbox, { source, bundleDir, outputName: 'output.png', target });
      expect(first.messages.map((message) => message.type), first.log).toEqual(['bundle', 'rendering', 'progress', 'done']);
      expect(first.messages[0]).toMatchObject({ type: 'bundle', cached: false });
      expect([first.image?.width, first.image?.height]).toEqual([320, 180]);
      expect(first.outputInfo?.uid).toBe(0);
      expect(first.job.uid).toBeGreaterThanOrEqual(1_300_000);
      expect(await containersOf(first.jobDir)).toEqual([]);
      expect(existsSync(first.jobDir)).toBe(false);
      const compositions = await stat(path.join(bundleDir, COMPOSITIONS_FILE));
      expect(compositions.uid).toBe(0);
      expect(compositions.mode & 0o777).toBe(0o644);

      // The next job reads the cached bundle (bound read-only into its container).
      const second = await run(sandbox, { source, bundleDir, outputName: 'output.png', target });
      expect(second.messages[0], second.log).toMatchObject({ type: 'bundle', cached: true });
      expect(second.messages.at(-1)).toMatchObject({ type: 'done' });
      expect(await containersOf(second.jobDir)).toEqual([]);

      // A frame the agent looks at (view_frame): a JPEG, scaled to its longest side, from the same bundle.
      const frame = await run(sandbox, { source, bundleDir, outputName: 'frame.jpg', target: { kind: 'frame', frame: 30, maxSide: 160 } });
      expect(frame.messages.at(-1), frame.log).toMatchObject({ type: 'done' });
      expect(frame.messages.find((message) => message.type === 'rendering')).toMatchObject({ compositionId: 'TitleScene', durationInFrames: 150 });
      expect([...frame.jpeg!.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
      const { width, height } = await sharp(frame.jpeg!).metadata();
      expect([width, height]).toEqual([160, 90]);
      expect(await containersOf(frame.jobDir)).toEqual([]);
    }, 600_000);

    it.runIf(docker !== null && isRoot)("renders a project with packages of its own, bound read-only into the container, and imported by the project's code", async () => {
      // An install's node_modules, as the installer leaves one: a CommonJS package the Root imports.
      const packages = path.join(dataDir, 'packages', 'docker-own', 'node_modules');
      await mkdir(path.join(packages, 'brand-colour'), { recursive: true });
      await writeFile(path.join(packages, 'brand-colour', 'package.json'), JSON.stringify({ name: 'brand-colour', version: '1.0.0', main: 'index.js' }));
      await writeFile(path.join(packages, 'brand-colour', 'index.js'), "exports.brand = 'rgb(12, 200, 90)';\n");
      const root = `import { Composition } from 'remotion';
import { brand } from 'brand-colour';
const Fill: React.FC = () => <div style={{ width: '100%', height: '100%', background: brand }} />;
export const RemotionRoot: React.FC = () => <Composition id="Fill" component={Fill} durationInFrames={1} fps={30} width={64} height={64} />;
`;
      const source = await projectRepo(dataDir, (dir) => writeFile(path.join(dir, 'src', 'Root.tsx'), root));
      const target = { kind: 'export', compositionId: 'Fill', format: 'png', scale: 1, frame: 0 } as const;
      const result = await run(dockerWall(), { source, bundleDir: path.join(dataDir, 'cache', 'bundles', 'packages-docker'), outputName: 'output.png', target, packages });
      expect(result.messages.at(-1), result.log).toMatchObject({ type: 'done' });
      expect([...result.image!.data.subarray(0, 3)]).toEqual([12, 200, 90]);
      expect(await containersOf(result.jobDir)).toEqual([]);
      // Without them the same version does not bundle: the package came from the bound install.
      const without = await run(dockerWall(), { source, bundleDir: path.join(dataDir, 'cache', 'bundles', 'packages-docker-none'), outputName: 'output.png', target });
      expect(without.messages.at(-1), without.log).toMatchObject({ type: 'failed' });
      expect(JSON.stringify(without.messages.at(-1))).toContain('brand-colour');
    }, 600_000);

    /** An MP4 of a composition of `framesRoot`, in a container; `onMessage` hears the worker. */
    async function framesJob(compositionId: 'Short' | 'Long', onMessage: (message: WorkerMessage) => void) {
      const source = await projectRepo(dataDir, (dir) => writeFile(path.join(dir, 'src', 'Root.tsx'), framesRoot));
      const jobDir = path.join(jobsRoot(), randomUUID());
      const job = await dockerWall().start({
        jobDir,
        source,
        bundleDir: path.join(dataDir, 'cache', 'bundles', `frames-${randomUUID()}`),
        outputName: 'output.mp4',
        chromiumPath: '/usr/bin/chromium',
        concurrency: 1,
        target: { kind: 'export', compositionId, format: 'mp4', scale: 1, frame: null },
        logger,
        onMessage,
      });
      return { job, jobDir };
    }

    it.runIf(docker !== null && isRoot)('renders a short video in a container', async () => {
      const messages: WorkerMessage[] = [];
      const { job, jobDir } = await framesJob('Short', (message) => messages.push(message));
      expect((await job.exited).code, await job.logTail()).toBe(0);
      const output = await job.output();
      const log = await job.logTail();
      expect(messages.at(-1), log).toMatchObject({ type: 'done' });
      expect(messages.find((message) => message.type === 'rendering')).toMatchObject({ totalFrames: 6, width: 64, height: 64 });
      // An MP4: its first box is `ftyp`.
      expect((await readFile(output!)).subarray(4, 8).toString('latin1')).toBe('ftyp');
      await job.dispose();
      expect(existsSync(jobDir)).toBe(false);
    }, 600_000);

    it.runIf(docker !== null && isRoot)('project code in a composition reaches nothing of the host from a container, from Chromium or from Remotion\'s Node side', async () => {
      const hits = host.hits.length;
      const source = await projectRepo(dataDir, (dir) => writeFile(path.join(dir, 'src', 'Root.tsx'), attackingRoot(host.port, true)));
      const result = await run(dockerWall(), {
        source,
        bundleDir: path.join(dataDir, 'cache', 'bundles', `attack-${randomUUID()}`),
        outputName: 'output.png',
        target: { kind: 'export', compositionId: 'Probe', format: 'png', scale: 1, frame: 0 },
      });
      expect(result.messages.at(-1), result.log).toMatchObject({ type: 'done' });
      expect(((result.image?.width ?? 0) - 64) / 2).toBe(0);
      expect(host.hits.slice(hits)).toEqual([]);
    }, 300_000);

    it.runIf(docker !== null && isRoot)('walls the container in, and a cancel kills it: no container, no output, no folder left', async () => {
      const messages: WorkerMessage[] = [];
      let rendering: () => void = () => {};
      const framesStarted = new Promise<void>((resolve) => (rendering = resolve));
      const { job, jobDir } = await framesJob('Long', (message) => {
        messages.push(message);
        if (message.type === 'progress' && message.renderedFrames > 0) rendering();
      });
      await Promise.race([framesStarted, job.exited]);
      expect(messages.map((message) => message.type), await job.logTail()).toContain('progress');
      const [running] = await containersOf(jobDir);
      const info = await engineClient().getContainer(running!.Id).inspect();
      expect(info.HostConfig).toMatchObject({ NetworkMode: 'none', ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'], Init: true });
      expect(info.HostConfig.Memory).toBe(info.HostConfig.MemorySwap);
      expect(info.Config.User).toBe(`${job.uid}:${job.uid}`);
      expect(info.Config.Labels).toMatchObject({ [LABELS.server]: server });

      await job.kill();
      expect(await containersOf(jobDir)).toEqual([]);
      expect(messages.at(-1)?.type).not.toBe('done');
      expect(await job.output()).toBeNull();
      await job.dispose();
      expect(existsSync(jobDir)).toBe(false);
    }, 600_000);

    it.runIf(docker !== null && isRoot)('reaps the containers and folders a crash left, and only this server\'s', async () => {
      const engineApi = engineClient();
      const leftover = randomUUID();
      const othersId = randomUUID();
      const make = (jobId: string, serverLabel: string) =>
        engineApi.createContainer({
          Image: docker!.image,
          Cmd: ['/usr/bin/sleep', '600'],
          Labels: { [RENDER_LABEL]: jobId, [LABELS.server]: serverLabel },
          HostConfig: { NetworkMode: 'none' },
        });
      const ours = await make(leftover, server);
      const others = await make(othersId, `${server}-other`);
      try {
        await ours.start();
        await mkdir(path.join(jobsRoot(), leftover, 'work'), { recursive: true });
        await writeFile(path.join(jobsRoot(), leftover, 'worker.json'), JSON.stringify({ container: ours.id }));
        const reaped = await dockerWall().reap(jobsRoot());
        expect(reaped).toContain(leftover);
        expect(await containersOf(path.join(jobsRoot(), leftover))).toEqual([]);
        expect(existsSync(path.join(jobsRoot(), leftover))).toBe(false);
        expect((await containersOf(path.join(jobsRoot(), othersId))).length).toBe(1);
      } finally {
        await others.remove({ force: true });
        await ours.remove({ force: true }).catch(() => {});
      }
    }, 120_000);
  });

  it('leaves no job folder behind', async () => {
    expect(existsSync(jobsRoot()) ? await readdir(jobsRoot()) : []).toEqual([]);
  });
});

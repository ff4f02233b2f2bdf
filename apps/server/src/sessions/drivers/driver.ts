/**
 * A sandbox driver runs sandboxes: the only places where project code runs (the preview
 * dev server, the agent and its tools, the bundler and Chromium). Every driver has the
 * same contract (`driver.contract.test.ts`); the session code never knows which one runs.
 *
 * Two rules make a driver whose sandboxes live on another machine fit without a change to
 * the session code:
 * - **Transport:** the server reaches a sandbox through `Endpoint`s the driver hands out
 *   (Unix sockets in the sandbox's own folder for `local` and `docker`; TCP for a driver
 *   whose sandboxes are elsewhere), never through a network the sandbox is on.
 * - **Files:** the server never reads or writes a sandbox's files by host path; they go in
 *   and out as tar streams through `readFiles` / `writeFiles`.
 *
 * Constructing a driver does no I/O; `reap` and `start` do.
 */
import type { Readable } from 'node:stream';

/**
 * `leaveOutMedia`: the working copy's media files that `.cutroom/media.json` pins (same path
 * and size) are left out of the archive: a commit keeps them as the latest version has
 * them anyway, and a 200 MB video need not cross at every turn. Honoured while the sandbox
 * runs (its runtime packs); a stopped sandbox's archive holds everything.
 */
export type ReadFilesOptions = { leaveOutMedia?: boolean };

export type SandboxStatus = 'starting' | 'running' | 'stopped' | 'error' | 'missing';

/** Where the server connects to a server of the sandbox's (preview HTTP + HMR, the bridge). */
export type Endpoint = { socketPath: string } | { host: string; port: number };

/** How strongly a driver walls its sandboxes in (shown at start, in the logs and in `/api/health`). */
export type Confinement = 'bubblewrap' | 'container' | 'none';

/** The folders of a sandbox that hold files the server moves in and out. */
export type SandboxArea = 'workspace' | 'agent';

export type Sandbox = {
  id: string;
  /** URL prefix the preview is served under: `/s/<id>/`. */
  base: string;
  /** The preview dev server (HTTP and the HMR WebSocket). */
  preview: Endpoint;
  /** The bridge (a WebSocket that carries `ServerToSandbox` / `SandboxToServer`). */
  bridge: Endpoint;
  /**
   * The runtime's files server (`sock/files.sock`): how the driver moves the files of a
   * running sandbox (`readFiles` / `writeFiles`); it takes the bridge token. The driver's
   * own business: the session code never uses it.
   */
  files: Endpoint;
  bridgeToken: string;
  /** The preview server answers only requests that carry it (see PREVIEW_KEY_HEADER). */
  previewKey: string;
  /**
   * Where the server listens for this sandbox's model requests: a Unix socket path on the
   * server's machine that the sandbox sees as `$RUNTIME_DIR/sock/model.sock`. A token is
   * accepted only on its own sandbox's socket.
   */
  modelSocketPath: string;
  confinement: Confinement;
  /** Process id, where the driver has one on this machine (for tests and diagnostics). */
  pid?: number;
  startupMs: number;
};

/** The project and user a sandbox serves. */
export type SandboxOwner = { projectId: string; ownerId: string };

export type SandboxExit = {
  id: string;
  code: number | null;
  signal: string | null;
  expected: boolean;
  /** Why the driver ended it, when it did: a limit it hit (memory, processes, disk). */
  reason?: 'memory' | 'pids' | 'disk' | 'timeout';
};

/** A sandbox left by an earlier server: its processes are gone, its files are still readable. */
export type Orphan = { id: string; owner: SandboxOwner; readFiles(area: SandboxArea): Promise<Readable> };

export type WriteFilesOptions = {
  /**
   * Make the area hold exactly the archive's files: files the archive does not have are
   * removed (`node_modules` is kept). Files whose content is unchanged are not rewritten,
   * so the preview's watcher only sees what really changed.
   */
  replace?: boolean;
};


/**
 * How a sandbox's preview is warmed: the runtime loads the template's page once, so that
 * a first visitor finds the pre-bundled packages transformed (most of a first page's
 * work). `before-ready` (the warm pool's): ready only once warm, so that whoever takes it
 * finds it idle. `after-ready` (a session waiting for it): ready as soon as it serves, the
 * warming going on while the session hands it the project.
 */
export type StartOptions = { warm?: 'before-ready' | 'after-ready' };

export interface SandboxDriver {
  readonly name: string;
  /** What this driver's sandboxes are walled in by, on this machine. */
  readonly confinement: Confinement;
  /** Starts a sandbox with a fresh working copy of the template; resolves when it is ready. */
  start(options?: StartOptions): Promise<Sandbox>;
  /** Stops its processes (SIGTERM, then SIGKILL) but keeps its files. */
  stop(id: string): Promise<void>;
  /** Stops it and removes everything it had. */
  destroy(id: string): Promise<void>;
  status(id: string): SandboxStatus;
  list(): { id: string; status: SandboxStatus }[];
  /** Called when a sandbox ends, expected (stop/destroy) or not (crash, kill -9, a limit). */
  onExit(listener: (exit: SandboxExit) => void): void;
  /**
   * A tar stream of an area's files (regular files, folders, symlinks as links), paths
   * relative to the area; `node_modules` and `.git` are never in it. Read with the
   * sandbox's own rights (a link in it is never followed on the server's).
   */
  readFiles(id: string, area: SandboxArea, options?: ReadFilesOptions): Promise<Readable>;
  /** Writes a tar stream's files into an area, owned by the sandbox's user. */
  writeFiles(id: string, area: SandboxArea, tar: Readable, options?: WriteFilesOptions): Promise<void>;
  /**
   * Shows an install of the project's packages (installer.ts) to the sandbox, read-only,
   * as its working copy's `node_modules` (`nodeModules` null: none). A driver that has no
   * way to do so leaves it out, and projects there get Cutroom's packages only.
   */
  setPackages?(id: string, install: { key: string; nodeModules: string | null }): Promise<void>;
  /** Notes which project a sandbox serves, so that a crash leaves enough to recover its work. */
  label(id: string, owner: SandboxOwner): Promise<void>;
  /**
   * At server start: ends and removes every sandbox that no live session owns (processes,
   * containers, sockets, folders). `recover` sees each labelled one's files first.
   */
  reap(recover?: (orphan: Orphan) => Promise<void>): Promise<string[]>;
  /** Stops every sandbox (server shutdown). */
  close?(): Promise<void>;
}

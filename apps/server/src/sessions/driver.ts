/**
 * A sandbox driver runs sandboxes: isolated places where a project's runtime (preview
 * and agent bridge) lives. The local driver runs child processes; Docker and
 * Kubernetes drivers will implement the same interface. Constructing a driver does no
 * I/O; `reap` and `start` do.
 */
export type SandboxStatus = 'starting' | 'running' | 'stopped' | 'error' | 'missing';

export type Sandbox = {
  id: string;
  /** URL prefix the preview is served under: `/s/<id>/`. */
  base: string;
  /** The working copy inside the sandbox. */
  workspace: string;
  /** The agent's own folder (its conversation), restored and saved by the server. */
  agentStateDir: string;
  /** Where the server reaches the preview dev server and the bridge. */
  previewOrigin: string;
  bridgeUrl: string;
  bridgeToken: string;
  /** The preview server answers only requests that carry it (see PREVIEW_KEY_HEADER). */
  previewKey: string;
  /** Process id, where the driver has one (for tests and diagnostics). */
  pid?: number;
  /** The user id its processes run as, where the driver gives each sandbox its own. */
  uid?: number;
  startupMs: number;
};

/** The project and user a sandbox serves. */
export type SandboxOwner = { projectId: string; ownerId: string };

export type SandboxExit = { id: string; code: number | null; signal: string | null; expected: boolean };

export interface SandboxDriver {
  readonly name: string;
  /** Starts a sandbox with a fresh working copy of the template; resolves when it is ready. */
  start(): Promise<Sandbox>;
  /** Stops its processes (SIGTERM, then SIGKILL) but keeps its folder. */
  stop(id: string): Promise<void>;
  /** Stops it and removes everything it had. */
  destroy(id: string): Promise<void>;
  status(id: string): SandboxStatus;
  list(): { id: string; status: SandboxStatus }[];
  /** Called when a sandbox ends, expected (stop/destroy) or not (crash, kill -9). */
  onExit(listener: (exit: SandboxExit) => void): void;
  /**
   * Hands what the server wrote into a sandbox's working copy and agent folder (checkout,
   * copy, sync, restored agent state) over to the sandbox's user. Call after every such write.
   */
  adopt?(id: string): Promise<void>;
  /** Notes which project a sandbox serves, so that a crash leaves enough to recover its work. */
  label(id: string, owner: SandboxOwner): Promise<void>;
  /**
   * At server start: ends and removes every sandbox that no live session owns. `recover`
   * sees each labelled one's working copy first (its processes already gone).
   */
  reap(recover?: (orphan: { id: string; workspace: string; owner: SandboxOwner }) => Promise<void>): Promise<string[]>;
}

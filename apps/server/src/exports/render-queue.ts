/**
 * A render waiting or running: an export (a user's), the list of a version's compositions
 * or a frame the agent looks at (someone waits for the answer), or a project's thumbnail
 * (low priority).
 */
export type QueuedRender = { id: string; kind: 'export' | 'compositions' | 'frame' | 'thumbnail'; userId: string; projectId: string };

export type QueueLimits = {
  /** Renders running at once on the server (exports and thumbnails). */
  global: number;
  /** Exports of one user running at once. */
  perUser: number;
};

/**
 * The next render to start, or undefined. Exports go first, in the order they were
 * asked for, skipping any user already at their limit (so one user's long queue does
 * not hold up another's); a thumbnail takes a free slot only when no waiting export
 * can, and a project renders one thumbnail at a time. Lists of compositions, then the
 * agent's frames, go between the two.
 */
export function pickNext(waiting: readonly QueuedRender[], running: readonly QueuedRender[], limits: QueueLimits): QueuedRender | undefined {
  if (running.length >= limits.global) return undefined;
  const perUser = new Map<string, number>();
  for (const render of running) {
    if (render.kind === 'export') perUser.set(render.userId, (perUser.get(render.userId) ?? 0) + 1);
  }
  const exportToStart = waiting.find((render) => render.kind === 'export' && (perUser.get(render.userId) ?? 0) < limits.perUser);
  if (exportToStart) return exportToStart;
  // A list of compositions or an agent's frame is a bundle and a page load that someone
  // waits for: before thumbnails, one of each kind per project at a time.
  for (const kind of ['compositions', 'frame'] as const) {
    const busy = new Set(running.filter((render) => render.kind === kind).map((render) => render.projectId));
    const toStart = waiting.find((render) => render.kind === kind && !busy.has(render.projectId));
    if (toStart) return toStart;
  }
  const busyProjects = new Set(running.filter((render) => render.kind === 'thumbnail').map((render) => render.projectId));
  return waiting.find((render) => render.kind === 'thumbnail' && !busyProjects.has(render.projectId));
}

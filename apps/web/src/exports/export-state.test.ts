import type { Export } from '@cutroom/protocol';
import { describe, expect, it } from 'vitest';
import { exportsReducer, fileSize, frameError, initialExportsState, laterSnapshot, mergeExports, pixelSize, statusText } from './export-state';

const snapshot = (n: number, fields: Partial<Export> = {}): Export => ({
  id: `export-${n}`,
  projectId: 'project',
  version: 'a'.repeat(40),
  compositionId: 'TitleScene',
  format: 'mp4',
  scale: 1,
  frame: null,
  status: 'queued',
  progress: 0,
  renderedFrames: 0,
  totalFrames: null,
  error: null,
  sizeBytes: null,
  createdAt: new Date(Date.UTC(2025, 0, 1, 10, n)).toISOString(),
  startedAt: null,
  finishedAt: null,
  downloadUrl: null,
  ...fields,
});

describe('the exports state', () => {
  it('keeps the later of two snapshots of an export, whatever order they arrive in', () => {
    const rendering = snapshot(1, { status: 'rendering', progress: 0.4, renderedFrames: 60, totalFrames: 150 });
    const further = { ...rendering, progress: 0.6, renderedFrames: 90 };
    const done = { ...rendering, status: 'done' as const, progress: 1 };
    const cancelled = { ...rendering, status: 'cancelled' as const };
    expect(laterSnapshot(rendering, further)).toBe(further);
    expect(laterSnapshot(further, rendering)).toBe(further);
    expect(laterSnapshot(done, rendering)).toBe(done);
    expect(laterSnapshot(snapshot(1), rendering)).toBe(rendering);
    // A finished export stays as it finished.
    expect(laterSnapshot(cancelled, done)).toBe(cancelled);
  });

  it('merges a list read with the events that came meanwhile, newest first', () => {
    const events = [snapshot(2, { status: 'rendering', progress: 0.5 })];
    const list = [snapshot(2, { status: 'preparing' }), snapshot(1, { status: 'done', progress: 1 })];
    const merged = mergeExports(events, list);
    expect(merged.map((item) => [item.id, item.status])).toEqual([
      ['export-2', 'rendering'],
      ['export-1', 'done'],
    ]);
    // One created here after the read started stays.
    expect(mergeExports([snapshot(3), ...merged], list).map((item) => item.id)).toEqual(['export-3', 'export-2', 'export-1']);
  });

  it('says when an export it followed finishes, not one that was finished when listed', () => {
    let state = exportsReducer(initialExportsState, { type: 'list', exports: [snapshot(1, { status: 'done', progress: 1 })] });
    expect(state.status).toBe('ready');
    expect(state.finished).toBeNull();
    state = exportsReducer(state, { type: 'update', export: snapshot(2, { format: 'png', frame: 60, status: 'rendering' }) });
    state = exportsReducer(state, { type: 'update', export: snapshot(2, { format: 'png', frame: 60, status: 'done', progress: 1 }) });
    expect(state.finished).toEqual({ id: 'export-2', status: 'done', text: 'Export done: PNG still · frame 60 · 1×' });
  });

  it('keeps the list on screen when a later read fails', () => {
    let state = exportsReducer(initialExportsState, { type: 'list:failed', message: 'Offline' });
    expect(state.status).toBe('error');
    state = exportsReducer(state, { type: 'retry' });
    state = exportsReducer(state, { type: 'list', exports: [snapshot(1)] });
    state = exportsReducer(state, { type: 'list:failed', message: 'Offline' });
    expect(state).toMatchObject({ status: 'ready', error: 'Offline' });
    expect(state.exports).toHaveLength(1);
  });

  it('describes statuses, sizes and frames for people', () => {
    expect(statusText(snapshot(1))).toBe('Queued');
    expect(statusText(snapshot(1, { status: 'rendering', progress: 0.42, renderedFrames: 63, totalFrames: 150 }))).toBe('Rendering 42% (63 of 150 frames)');
    expect(statusText(snapshot(1, { status: 'rendering', progress: 0.999 }))).toBe('Rendering 99%');
    expect(statusText(snapshot(1, { status: 'failed', error: 'Frame 200 is past the end.' }))).toBe('Failed: Frame 200 is past the end.');
    expect(statusText(snapshot(1, { status: 'cancelled' }))).toBe('Cancelled');
    expect(pixelSize({ width: 1280, height: 720 }, 0.5)).toBe('640×360');
    expect(fileSize(850)).toBe('850 B');
    expect(fileSize(12_345)).toBe('12 KB');
    expect(fileSize(1_450_000)).toBe('1.4 MB');
    expect(fileSize(999_999)).toBe('1.0 MB');
    expect(frameError('60', 150)).toBeNull();
    expect(frameError('150', 150)).toBe('Choose a frame from 0 to 149.');
    expect(frameError('1.5', 150)).toBe('Choose a frame from 0 to 149.');
    expect(frameError('', 150)).toBe('Choose a frame from 0 to 149.');
  });
});

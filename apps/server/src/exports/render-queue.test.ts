import { describe, expect, it } from 'vitest';
import { type QueuedRender, pickNext } from './render-queue.js';

const exportOf = (id: string, userId: string, projectId = `p-${userId}`): QueuedRender => ({ id, kind: 'export', userId, projectId });
const thumbnailOf = (projectId: string, userId = 'u'): QueuedRender => ({ id: `thumbnail:${projectId}`, kind: 'thumbnail', userId, projectId });

describe('render queue', () => {
  it('starts nothing when every slot of the server is taken', () => {
    expect(pickNext([exportOf('b', 'bob')], [exportOf('a', 'ann')], { global: 1, perUser: 1 })).toBeUndefined();
  });

  it('takes exports in order, skipping a user at their limit', () => {
    const waiting = [exportOf('a2', 'ann'), exportOf('b1', 'bob'), exportOf('a3', 'ann')];
    expect(pickNext(waiting, [exportOf('a1', 'ann')], { global: 2, perUser: 1 })?.id).toBe('b1');
    expect(pickNext(waiting, [exportOf('a1', 'ann')], { global: 3, perUser: 2 })?.id).toBe('a2');
    expect(pickNext([exportOf('a2', 'ann')], [exportOf('a1', 'ann')], { global: 4, perUser: 1 })).toBeUndefined();
  });

  it('puts thumbnails behind every export that can start', () => {
    const waiting = [thumbnailOf('p1'), exportOf('a1', 'ann')];
    expect(pickNext(waiting, [], { global: 1, perUser: 1 })?.id).toBe('a1');
    // An export held back by its user's limit does not keep a free slot from a thumbnail.
    expect(pickNext(waiting, [exportOf('a0', 'ann')], { global: 2, perUser: 1 })?.id).toBe('thumbnail:p1');
  });

  it('renders one thumbnail of a project at a time, and thumbnails do not count against users', () => {
    const running = [thumbnailOf('p1')];
    expect(pickNext([thumbnailOf('p1')], running, { global: 3, perUser: 1 })).toBeUndefined();
    expect(pickNext([thumbnailOf('p1'), thumbnailOf('p2')], running, { global: 3, perUser: 1 })?.id).toBe('thumbnail:p2');
    expect(pickNext([exportOf('a1', 'u')], running, { global: 2, perUser: 1 })?.id).toBe('a1');
  });

  it('puts a list of compositions after exports and before thumbnails, one per project at a time', () => {
    const listOf = (project: string) => ({ id: `compositions:${project}`, kind: 'compositions' as const, userId: 'u', projectId: project });
    expect(pickNext([thumbnailOf('p1'), listOf('p1'), exportOf('a1', 'ann')], [], { global: 1, perUser: 1 })?.id).toBe('a1');
    expect(pickNext([thumbnailOf('p1'), listOf('p1')], [], { global: 1, perUser: 1 })?.id).toBe('compositions:p1');
    expect(pickNext([listOf('p1'), thumbnailOf('p2')], [listOf('p1')], { global: 3, perUser: 1 })?.id).toBe('thumbnail:p2');
  });

  it("puts the agent's frames after lists of compositions and before thumbnails, one per project at a time", () => {
    const frameOf = (project: string, id = '1') => ({ id: `frame:${project}:${id}`, kind: 'frame' as const, userId: 'u', projectId: project });
    const listOf = (project: string) => ({ id: `compositions:${project}`, kind: 'compositions' as const, userId: 'u', projectId: project });
    expect(pickNext([thumbnailOf('p1'), frameOf('p1'), listOf('p1')], [], { global: 1, perUser: 1 })?.id).toBe('compositions:p1');
    expect(pickNext([thumbnailOf('p1'), frameOf('p1')], [], { global: 1, perUser: 1 })?.id).toBe('frame:p1:1');
    expect(pickNext([frameOf('p1', '2'), thumbnailOf('p2')], [frameOf('p1')], { global: 3, perUser: 1 })?.id).toBe('thumbnail:p2');
    expect(pickNext([frameOf('p1', '2')], [frameOf('p2')], { global: 3, perUser: 1 })?.id).toBe('frame:p1:2');
  });
});

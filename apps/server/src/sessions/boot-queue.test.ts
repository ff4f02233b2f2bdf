import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAdmission } from './admission.js';
import { BootCancelled, BootQueueClosed, type Place, createBootQueue } from './boot-queue.js';

/** A boot the test finishes by hand: `finish()` resolves it, `fail()` rejects it. */
function manualBoot(name: string, log: string[]) {
  let finish!: () => void;
  let fail!: (error: Error) => void;
  const boot = () =>
    new Promise<string>((resolve, reject) => {
      log.push(`start ${name}`);
      finish = () => resolve(name);
      fail = reject;
    });
  return { boot, finish: () => finish(), fail: (error: Error) => fail(error) };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe('boot queue', () => {
  it('runs at most `concurrency` boots at once, first come first served', async () => {
    const queue = createBootQueue({ concurrency: 2 });
    const log: string[] = [];
    const boots = ['a', 'b', 'c', 'd'].map((name) => manualBoot(name, log));
    const done = boots.map((boot) => queue.run(boot.boot, { priority: 'session' }));
    await settle();
    expect(log).toEqual(['start a', 'start b']);
    expect(queue.running).toBe(2);
    expect(queue.waiting).toBe(2);
    boots[1]!.finish();
    await settle();
    expect(log).toEqual(['start a', 'start b', 'start c']);
    boots[0]!.finish();
    await settle();
    expect(log).toEqual(['start a', 'start b', 'start c', 'start d']);
    boots[2]!.finish();
    boots[3]!.finish();
    await expect(Promise.all(done)).resolves.toEqual(['a', 'b', 'c', 'd']);
    expect(queue.running).toBe(0);
  });

  it('tells each waiting boot its place as the line moves, and when it starts', async () => {
    const queue = createBootQueue({ concurrency: 1 });
    const log: string[] = [];
    const places: Record<string, Array<Place | 'start'>> = { a: [], b: [], c: [] };
    const boots = ['a', 'b', 'c'].map((name) => manualBoot(name, log));
    boots.forEach((boot, index) => {
      const name = ['a', 'b', 'c'][index]!;
      void queue.run(boot.boot, {
        priority: 'session',
        onPlace: (place) => places[name]!.push(place),
        onStart: () => places[name]!.push('start'),
      });
    });
    await settle();
    // `a` started at once: it never waited, so it hears nothing.
    expect(places.a).toEqual([]);
    expect(places.b).toEqual([{ position: 1, reason: 'slots' }]);
    expect(places.c).toEqual([{ position: 2, reason: 'slots' }]);
    boots[0]!.finish();
    await settle();
    expect(places.b).toEqual([{ position: 1, reason: 'slots' }, 'start']);
    expect(places.c).toEqual([{ position: 2, reason: 'slots' }, { position: 1, reason: 'slots' }]);
    boots[1]!.finish();
    await settle();
    expect(places.c.at(-1)).toBe('start');
    boots[2]!.finish();
  });

  it("puts a session's boot before every refill that waits", async () => {
    const queue = createBootQueue({ concurrency: 1 });
    const log: string[] = [];
    const first = manualBoot('first', log);
    const refill = manualBoot('refill', log);
    const session = manualBoot('session', log);
    void queue.run(first.boot, { priority: 'refill' });
    const refillPlaces: Place[] = [];
    void queue.run(refill.boot, { priority: 'refill', onPlace: (place) => refillPlaces.push(place) });
    void queue.run(session.boot, { priority: 'session' });
    await settle();
    // The refill came first but is pushed back behind the session.
    expect(refillPlaces).toEqual([{ position: 1, reason: 'slots' }, { position: 2, reason: 'slots' }]);
    first.finish();
    await settle();
    expect(log).toEqual(['start first', 'start session']);
    session.finish();
    await settle();
    expect(log).toEqual(['start first', 'start session', 'start refill']);
    refill.finish();
  });

  it('frees the slot of a boot that fails (also one that throws at once)', async () => {
    const queue = createBootQueue({ concurrency: 1 });
    const log: string[] = [];
    const failing = manualBoot('failing', log);
    const next = manualBoot('next', log);
    const failed = queue.run(failing.boot, { priority: 'session' });
    const throwing = queue.run(
      () => {
        throw new Error('cannot even begin');
      },
      { priority: 'session' },
    );
    const succeeded = queue.run(next.boot, { priority: 'session' });
    await settle();
    failing.fail(new Error('runtime exited'));
    await expect(failed).rejects.toThrow('runtime exited');
    await expect(throwing).rejects.toThrow('cannot even begin');
    await settle();
    expect(log).toEqual(['start failing', 'start next']);
    next.finish();
    await expect(succeeded).resolves.toBe('next');
    expect(queue.running).toBe(0);
  });

  it('lets a boot leave the line (its client left), and moves the ones behind it up', async () => {
    const queue = createBootQueue({ concurrency: 1 });
    const log: string[] = [];
    const running = manualBoot('running', log);
    const leaving = manualBoot('leaving', log);
    const staying = manualBoot('staying', log);
    void queue.run(running.boot, { priority: 'session' });
    const leave = new AbortController();
    const left = queue.run(leaving.boot, { priority: 'session', signal: leave.signal });
    const places: Place[] = [];
    const stays = queue.run(staying.boot, { priority: 'session', onPlace: (place) => places.push(place) });
    await settle();
    expect(places).toEqual([{ position: 2, reason: 'slots' }]);
    leave.abort();
    await expect(left).rejects.toBeInstanceOf(BootCancelled);
    expect(places).toEqual([{ position: 2, reason: 'slots' }, { position: 1, reason: 'slots' }]);
    running.finish();
    await settle();
    expect(log).toEqual(['start running', 'start staying']);
    staying.finish();
    await expect(stays).resolves.toBe('staying');
    // An abort after the start changes nothing: the boot is the caller's to undo.
    const late = new AbortController();
    const lateBoot = manualBoot('late', log);
    const lateDone = queue.run(lateBoot.boot, { priority: 'session', signal: late.signal });
    await settle();
    late.abort();
    lateBoot.finish();
    await expect(lateDone).resolves.toBe('late');
    // Already aborted: never queued.
    await expect(queue.run(manualBoot('never', log).boot, { priority: 'session', signal: AbortSignal.abort() })).rejects.toBeInstanceOf(BootCancelled);
    expect(log).not.toContain('start never');
  });

  it('holds the line while admission refuses, says why, and starts when memory is back', async () => {
    vi.useFakeTimers();
    let availableMb = 700;
    const held: Array<{ availableMb: number; neededMb: number } | null> = [];
    const queue = createBootQueue({
      concurrency: 4,
      admission: createAdmission({ admitMb: 250, reserveMb: 100, readAvailableMb: () => availableMb }),
      recheckMs: 500,
      onHeld: (value) => held.push(value),
    });
    const log: string[] = [];
    const boots = ['a', 'b', 'c'].map((name) => manualBoot(name, log));
    const places: Place[] = [];
    const done = boots.map((boot, index) => queue.run(boot.boot, { priority: 'session', ...(index === 2 ? { onPlace: (place: Place) => places.push(place) } : {}) }));
    await vi.advanceTimersByTimeAsync(0);
    // 700 − 100 reserve: room for two boots under way (2 × 250), not a third.
    expect(log).toEqual(['start a', 'start b']);
    expect(places).toEqual([{ position: 1, reason: 'memory' }]);
    expect(held).toEqual([{ availableMb: 700, neededMb: 850 }]);
    // Boots that finished no longer count as under way, but their memory is now used.
    availableMb = 200;
    boots[0]!.finish();
    boots[1]!.finish();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(log).toEqual(['start a', 'start b']);
    availableMb = 400;
    await vi.advanceTimersByTimeAsync(500);
    expect(log).toEqual(['start a', 'start b', 'start c']);
    expect(held.at(-1)).toBeNull();
    boots[2]!.finish();
    await expect(Promise.all(done)).resolves.toEqual(['a', 'b', 'c']);
  });

  it('rejects what still waits when it closes', async () => {
    const queue = createBootQueue({ concurrency: 1 });
    const log: string[] = [];
    const running = manualBoot('running', log);
    const finished = queue.run(running.boot, { priority: 'session' });
    const waiting = queue.run(manualBoot('waiting', log).boot, { priority: 'refill' });
    queue.close();
    await expect(waiting).rejects.toBeInstanceOf(BootQueueClosed);
    running.finish();
    await expect(finished).resolves.toBe('running');
    await expect(queue.run(manualBoot('after', log).boot, { priority: 'session' })).rejects.toBeInstanceOf(BootQueueClosed);
    expect(log).toEqual(['start running']);
  });

  it('refuses a concurrency below one', () => {
    expect(() => createBootQueue({ concurrency: 0 })).toThrow(RangeError);
  });
});

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmission, readMemAvailableMb } from './admission.js';

describe('admission by memory', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-admission-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads MemAvailable (kB) from a meminfo file, in MiB', async () => {
    const file = path.join(dir, 'meminfo');
    await writeFile(file, 'MemTotal:       24576000 kB\nMemFree:         1000000 kB\nMemAvailable:    2097152 kB\nBuffers:  1 kB\n');
    expect(readMemAvailableMb(file)).toBe(2048);
    await writeFile(file, 'MemTotal: 1 kB\n');
    expect(readMemAvailableMb(file)).toBeNull();
    expect(readMemAvailableMb(path.join(dir, 'missing'))).toBeNull();
  });

  it("reads this machine's /proc/meminfo", () => {
    const available = readMemAvailableMb();
    expect(available).toBeGreaterThan(0);
  });

  it('admits a boot only with its memory, the reserve and the boots under way covered', () => {
    let availableMb = 1_000;
    const admission = createAdmission({ admitMb: 250, reserveMb: 500, readAvailableMb: () => availableMb });
    expect(admission.check(0)).toEqual({ admit: true });
    // 1000 − 500 = 500: one boot under way leaves room for exactly one more.
    expect(admission.check(1)).toEqual({ admit: true });
    expect(admission.check(2)).toEqual({ admit: false, availableMb: 1_000, neededMb: 1_250 });
    availableMb = 749;
    expect(admission.check(0)).toEqual({ admit: false, availableMb: 749, neededMb: 750 });
    availableMb = 750;
    expect(admission.check(0)).toEqual({ admit: true });
  });

  it('lets boots through when the machine gives no figure', () => {
    const admission = createAdmission({ admitMb: 250, readAvailableMb: () => null });
    expect(admission.check(10)).toEqual({ admit: true });
  });

  it('needs a positive amount per session (0 means admission is off, decided by the caller)', () => {
    expect(() => createAdmission({ admitMb: 0 })).toThrow(RangeError);
  });
});

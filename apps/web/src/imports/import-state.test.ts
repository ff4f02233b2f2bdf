import { MAX_IMPORT_ARCHIVE_BYTES } from '@cutroom/protocol';
import { describe, expect, it } from 'vitest';
import { archiveProblem, phaseText, uploadPercent } from './import-state';

describe('import state', () => {
  it('catches a wrong pick before sending a byte', () => {
    expect(archiveProblem({ name: 'film.zip', size: 10 })).toBeNull();
    expect(archiveProblem({ name: 'film.TAR.GZ', size: 10 })).toBeNull();
    expect(archiveProblem({ name: 'film.tgz', size: 10 })).toBeNull();
    expect(archiveProblem({ name: 'film.rar', size: 10 })).toMatch(/\.zip or \.tar\.gz/);
    expect(archiveProblem({ name: 'film.zip', size: 0 })).toMatch(/empty/);
    expect(archiveProblem({ name: 'film.zip', size: MAX_IMPORT_ARCHIVE_BYTES + 1 })).toMatch(/at most .*node_modules/);
  });

  it('counts whole percents and says 100 only at the last byte', () => {
    expect(uploadPercent(0, 0)).toBe(0);
    expect(uploadPercent(0, 1000)).toBe(0);
    expect(uploadPercent(505, 1000)).toBe(50);
    expect(uploadPercent(999, 1000)).toBe(99);
    expect(uploadPercent(1000, 1000)).toBe(100);
    expect(phaseText({ kind: 'uploading', loaded: 512 * 1024, total: 1024 * 1024 })).toMatch(/^Uploading… 50% \(/);
    expect(phaseText({ kind: 'importing' })).toMatch(/Checking the files/);
    expect(phaseText({ kind: 'idle' })).toBe('');
  });
});

import { describe, expect, it } from 'vitest';
import { parseDiff, parseLog } from './versions.js';

const a = 'a'.repeat(40);
const b = 'b'.repeat(40);
const c = 'c'.repeat(40);

/** What `git log --format=cutroom-version %H%x00%P%x00%cI%x00%B --name-status -z` prints. */
const record = (id: string, parents: string, body: string, files = '') => `cutroom-version ${id}\0${parents}\0${'2026-11-24T04:41:59+01:00'}\0${body}${files ? `\0\n${files}` : '\0'}`;

describe('parseLog', () => {
  it('reads records, trailers and name-status entries, with paths taken verbatim', () => {
    const output =
      record(a, b, `Restore "Make it blue"\n\nCutroom-Author: restore\nCutroom-Restored-From: ${c}\n`, 'M\0src/a.tsx\0R087\0old name.txt\0new\nname.txt\0D\0M\0A\0cutroom-version x\0') +
      record(b, c, 'Make it blue\nmore words\n\nCutroom-Author: agent\n', 'T\0link\0C100\0from\0to\0') +
      record(c, '', 'Create project from the template\n');
    const [restore, agent, first] = parseLog(output);
    expect(restore).toEqual({
      id: a,
      parentId: b,
      message: 'Restore "Make it blue"',
      createdAt: '2026-11-24T03:41:59.000Z',
      author: 'restore',
      restoredFrom: c,
      files: [
        { path: 'src/a.tsx', change: 'modified' },
        { path: 'new\nname.txt', change: 'renamed', previousPath: 'old name.txt' },
        // A file named "M", and one whose name looks like a record: still paths.
        { path: 'M', change: 'deleted' },
        { path: 'cutroom-version x', change: 'added' },
      ],
    });
    expect(agent).toMatchObject({ author: 'agent', message: 'Make it blue', files: [{ path: 'link', change: 'modified' }, { path: 'to', change: 'added' }] });
    expect(agent!.restoredFrom).toBeUndefined();
    expect(first).toMatchObject({ parentId: null, author: 'user', files: [] });
  });

  it('takes trailers only from a last paragraph, and only known authors', () => {
    const [single, unknown] = parseLog(
      record(a, '', 'Cutroom-Author: agent') + record(b, '', 'Do it\n\nCutroom-Author: robot\nCutroom-Restored-From: not-an-id\n'),
    );
    expect(single).toMatchObject({ message: 'Cutroom-Author: agent', author: 'user' });
    expect(unknown!.author).toBe('user');
    expect(unknown!.restoredFrom).toBeUndefined();
  });

  it('refuses output it does not understand rather than guess', () => {
    expect(() => parseLog('garbage\0')).toThrow(/unexpected git log output/);
  });
});

describe('parseDiff', () => {
  const raw = (status: string, ...paths: string[]) => `:100644 100644 ${'1'.repeat(40)} ${'2'.repeat(40)} ${status}\0${paths.join('\0')}\0`;
  const section = (name: string, lines: number) =>
    `diff --git a/${name} b/${name}\nindex 1..2 100644\n--- a/${name}\n+++ b/${name}\n@@ -1,${lines} +1,${lines} @@\n${Array.from({ length: lines }, (_, index) => `+line ${index}\n`).join('')}`;

  it('pairs raw entries with their patch sections, marks binaries, and caps the patches', () => {
    const output =
      raw('M', 'src/a.tsx') +
      raw('R100', 'old.txt', 'new.txt') +
      raw('A', 'logo.png') +
      raw('D', 'b.txt') +
      '\0' +
      section('src/a.tsx', 10) +
      'diff --git a/old.txt b/new.txt\nsimilarity index 100%\nrename from old.txt\nrename to new.txt\n' +
      'diff --git a/logo.png b/logo.png\nnew file mode 100644\nindex 0..1\nBinary files /dev/null and b/logo.png differ\n' +
      section('b.txt', 100);
    const whole = parseDiff(output);
    expect(whole.truncated).toBe(false);
    expect(whole.files.map(({ path, change, binary, truncated }) => ({ path, change, binary, truncated }))).toEqual([
      { path: 'src/a.tsx', change: 'modified', binary: false, truncated: false },
      { path: 'new.txt', change: 'renamed', binary: false, truncated: false },
      { path: 'logo.png', change: 'added', binary: true, truncated: false },
      { path: 'b.txt', change: 'deleted', binary: false, truncated: false },
    ]);
    expect(whole.files[1]!.previousPath).toBe('old.txt');
    expect(whole.files[0]!.patch).toBe(section('src/a.tsx', 10));

    const capped = parseDiff(output, 500);
    expect(capped.truncated).toBe(true);
    const total = capped.files.reduce((sum, file) => sum + file.patch.length, 0);
    expect(total).toBeLessThanOrEqual(500);
    const cut = capped.files.findIndex((file) => file.truncated);
    expect(capped.files[cut]!.path).toBe('b.txt');
    expect(capped.files[cut]!.patch).toMatch(/^diff --git a\/b\.txt b\/b\.txt\n[^]*\+line \d+\n$/);
    expect(capped.files.slice(0, cut).every((file) => !file.truncated)).toBe(true);
    // Past the cap: listed, without a patch.
    const after = parseDiff(output, 200);
    expect(after.files.map((file) => file.truncated)).toEqual([false, true, true, true]);
    expect(after.files.slice(1).map((file) => file.patch)).toEqual(['', '', '']);
  });

  it('an empty diff has no files', () => {
    expect(parseDiff('')).toEqual({ files: [], truncated: false });
  });
});

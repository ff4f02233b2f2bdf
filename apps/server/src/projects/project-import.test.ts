import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { importedName } from './import-route.js';
import { DEFAULT_IMPORT_LIMITS, MAX_IMPORT_ARCHIVE_BYTES, checkEntryName, isSkipped } from './project-import.js';

const refusal = (name: string) => {
  try {
    checkEntryName(name);
    return null;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('import_entry_refused');
    return (error as AppError).message;
  }
};

describe('checkEntryName', () => {
  it('normalizes ordinary names and the root', () => {
    expect(checkEntryName('src/Root.tsx')).toBe('src/Root.tsx');
    expect(checkEntryName('./src//scenes/./Slate.tsx')).toBe('src/scenes/Slate.tsx');
    expect(checkEntryName('film/')).toBe('film');
    expect(checkEntryName('./')).toBeNull();
    expect(checkEntryName('public/Été “logo”.svg')).toBe('public/Été “logo”.svg');
  });

  it('refuses names that lead elsewhere or that file systems read otherwise, and names the entry', () => {
    expect(refusal('../x')).toMatch(/"\.\.\/x" leads out of the project/);
    expect(refusal('a/../../x')).toMatch(/leads out/);
    expect(refusal('a/..')).toMatch(/leads out/);
    expect(refusal('/etc/passwd')).toMatch(/absolute path/);
    expect(refusal('C:/Windows/x')).toMatch(/absolute path/);
    expect(refusal('c:x')).toMatch(/absolute path/);
    expect(refusal('..\\x')).toMatch(/backslash/);
    expect(refusal('a\\b')).toMatch(/backslash/);
    expect(refusal('a\u0000b')).toMatch(/NUL/);
    expect(refusal('a\nb')).toMatch(/control character/);
    expect(refusal(`${'a'.repeat(256)}/b`)).toMatch(/too long/);
    expect(refusal('a/'.repeat(600))).toMatch(/too long/);
    // Shown escaped: a name cannot forge lines in the message.
    expect(refusal('x\u001b[31m/../y')).toContain('\\u001b');
  });
});

describe('isSkipped', () => {
  it('leaves out installed packages, git data and build output at any depth, and desktop litter', () => {
    for (const [name, kind] of [
      ['node_modules', 'directory'],
      ['node_modules/remotion/index.js', 'file'],
      ['packages/a/node_modules/x.js', 'file'],
      ['.git/config', 'file'],
      ['.git', 'file'],
      ['sub/.GIT/config', 'file'],
      ['out/video.mp4', 'file'],
      ['dist', 'directory'],
      ['build/index.html', 'file'],
      ['.cache/x', 'file'],
      ['.remotion/chrome', 'file'],
      ['__MACOSX/._package.json', 'file'],
      ['.DS_Store', 'file'],
      ['src/.DS_Store', 'file'],
    ] as const) {
      expect(isSkipped(name, kind), name).toBe(true);
    }
  });

  it('keeps the project, including files that are only named like build folders', () => {
    for (const [name, kind] of [
      ['package.json', 'file'],
      ['src/Root.tsx', 'file'],
      ['public/logo.svg', 'file'],
      ['src/out.ts', 'file'],
      ['out', 'file'],
      ['.gitignore', 'file'],
      ['src/build-scene.tsx', 'file'],
      ['node_modules_backup/x', 'file'],
    ] as const) {
      expect(isSkipped(name, kind), name).toBe(false);
    }
  });
});

describe('import names and limits', () => {
  it('names a project after its file, or plainly', () => {
    expect(importedName('My Film.tar.gz')).toBe('My Film');
    expect(importedName('film.ZIP')).toBe('film');
    expect(importedName('C:\\Users\\me\\launch.tgz')).toBe('launch');
    expect(importedName('.zip')).toBe('Imported project');
    expect(importedName(undefined)).toBe('Imported project');
    expect(importedName('a\u0007b.zip')).toBe('ab');
  });

  it('uses the named constants by default', () => {
    expect(DEFAULT_IMPORT_LIMITS.archiveBytes).toBe(MAX_IMPORT_ARCHIVE_BYTES);
    expect(DEFAULT_IMPORT_LIMITS.ratio).toBeGreaterThanOrEqual(20);
  });
});

import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PathRefused } from './confine.js';
import { FileToolError, type FileTools, createFileTools } from './file-tools.js';
import { createWriteBudget } from './write-limits.js';

let dir: string;
let workspace: string;
let tools: FileTools;

/** Calls a tool the way the AI SDK does (execute, then toModelOutput for what the model sees). */
async function call<N extends keyof FileTools>(name: N, input: Parameters<NonNullable<FileTools[N]['execute']>>[0]) {
  const tool = tools[name] as any;
  const output = await tool.execute(input, { toolCallId: 'call-1', messages: [] });
  const forModel = await tool.toModelOutput({ toolCallId: 'call-1', input, output });
  return { output, text: forModel.value as string };
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'file-tools-'));
  workspace = path.join(dir, 'workspace');
  await mkdir(path.join(workspace, 'src', 'scenes'), { recursive: true });
  await mkdir(path.join(workspace, 'public'), { recursive: true });
  await mkdir(path.join(workspace, '.git'), { recursive: true });
  await writeFile(path.join(workspace, '.git', 'config'), '[core]\n');
  await writeFile(path.join(workspace, 'package.json'), '{"name":"video"}\n');
  await writeFile(path.join(workspace, 'src', 'Root.tsx'), 'export const Root = () => null;\n');
  await writeFile(path.join(workspace, 'src', 'scenes', 'Intro.tsx'), 'const title = "Hello";\nconst color = "red";\nconst other = "red";\n');
  await writeFile(path.join(workspace, 'public', 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0]));
  await writeFile(path.join(dir, 'secret.txt'), 'the secret\n');
  await symlink(path.join(dir, 'secret.txt'), path.join(workspace, 'src', 'leak.txt'));
  await symlink(dir, path.join(workspace, 'src', 'outside'));
  tools = createFileTools({ workspace, limits: { maxReadBytes: 1_000, maxListEntries: 50, maxSearchResults: 3 }, budget: createWriteBudget({ maxFileBytes: 1_000 }) });
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('list_files', () => {
  it('lists the whole project recursively, without following symlinks, without .git/ or node_modules/', async () => {
    await mkdir(path.join(workspace, 'node_modules', 'remotion'), { recursive: true });
    await writeFile(path.join(workspace, 'node_modules', 'remotion', 'index.js'), '');
    const { output, text } = await call('list_files', {});
    expect([...output.files].sort()).toEqual(['package.json', 'public/logo.png', 'src/Root.tsx', 'src/leak.txt', 'src/outside', 'src/scenes/Intro.tsx']);
    expect(output.truncated).toBe(false);
    expect(text).toContain('src/scenes/Intro.tsx');
    expect(text).not.toContain('secret');
  });

  it('lists one folder and caps the listing', async () => {
    await expect(call('list_files', { path: 'src/scenes' })).resolves.toMatchObject({ output: { files: ['src/scenes/Intro.tsx'] } });
    tools = createFileTools({ workspace, limits: { maxListEntries: 2 } });
    const { output, text } = await call('list_files', {});
    expect(output.files).toHaveLength(2);
    expect(output.truncated).toBe(true);
    expect(text).toContain('only the first 2 entries');
  });

  it.each([['..'], ['/etc'], ['.git'], ['src/outside'], ['node_modules']])('refuses %j', async (given) => {
    await expect(call('list_files', { path: given })).rejects.toBeInstanceOf(PathRefused);
  });

  it('says when the folder is missing or a file', async () => {
    await expect(call('list_files', { path: 'src/nothing' })).rejects.toThrow('src/nothing does not exist.');
    await expect(call('list_files', { path: 'src/Root.tsx' })).rejects.toThrow(/is a file, not a folder/);
  });
});

describe('search_files', () => {
  it('finds a regular expression and reports file:line', async () => {
    const { output, text } = await call('search_files', { pattern: 'const (title|color)' });
    expect(output.matches).toEqual(['src/scenes/Intro.tsx:1: const title = "Hello";', 'src/scenes/Intro.tsx:2: const color = "red";']);
    expect(text).toBe(output.matches.join('\n'));
  });

  it('takes an invalid regular expression as plain text', async () => {
    await writeFile(path.join(workspace, 'src', 'calc.ts'), 'const x = f(1 + (2;\n');
    const { output } = await call('search_files', { pattern: '(2', path: 'src' });
    expect(output.matches).toEqual(['src/calc.ts:1: const x = f(1 + (2;']);
  });

  it('stops a pattern that backtracks for ever, with an error the model can act on', async () => {
    await writeFile(path.join(workspace, 'src', 'slow.txt'), `${'a'.repeat(40)}!\n`);
    await expect(call('search_files', { pattern: '(a+)+$', path: 'src/slow.txt' })).rejects.toThrow(/takes too long/);
  });

  it('caps the results', async () => {
    const { output, text } = await call('search_files', { pattern: 'const' });
    expect(output.matches).toHaveLength(3);
    expect(output.truncated).toBe(true);
    expect(text).toContain('only the first 3 matches');
  });

  it('never reads through a symlink that leads out, nor binary files', async () => {
    await expect(call('search_files', { pattern: 'secret' })).resolves.toMatchObject({ output: { matches: [] }, text: 'No matches.' });
    await expect(call('search_files', { pattern: 'PNG' })).resolves.toMatchObject({ output: { matches: [] } });
    await expect(call('search_files', { pattern: 'secret', path: 'src/leak.txt' })).rejects.toBeInstanceOf(PathRefused);
    await expect(call('search_files', { pattern: 'core', path: '.git' })).rejects.toBeInstanceOf(PathRefused);
  });
});

describe('read_file', () => {
  it('reads a file in the roots, by relative or absolute path', async () => {
    await expect(call('read_file', { path: 'src/Root.tsx' })).resolves.toEqual({
      output: { path: 'src/Root.tsx', content: 'export const Root = () => null;\n' },
      text: 'export const Root = () => null;\n',
    });
    await expect(call('read_file', { path: path.join(workspace, 'src/Root.tsx') })).resolves.toMatchObject({ output: { path: 'src/Root.tsx' } });
  });

  it.each([['../secret.txt'], ['/etc/passwd'], ['src/leak.txt'], ['src/outside/secret.txt'], ['node_modules/remotion/package.json'], ['.git/config']])(
    'refuses %j',
    async (given) => {
      await expect(call('read_file', { path: given })).rejects.toBeInstanceOf(PathRefused);
    },
  );

  it('says why it cannot read missing, large, binary files and folders', async () => {
    await writeFile(path.join(workspace, 'src', 'big.ts'), 'x'.repeat(2_000));
    await expect(call('read_file', { path: 'src/missing.tsx' })).rejects.toThrow('src/missing.tsx does not exist.');
    await expect(call('read_file', { path: 'src/big.ts' })).rejects.toThrow(/too large to read \(2000 bytes; the limit is 1000\)/);
    await expect(call('read_file', { path: 'public/logo.png' })).rejects.toThrow(/binary file/);
    await expect(call('read_file', { path: 'src/scenes' })).rejects.toThrow(/is a folder/);
    await expect(call('read_file', { path: 'src/missing.tsx' })).rejects.toBeInstanceOf(FileToolError);
  });
});

describe('write_file', () => {
  it('creates a file and its folders, with a diff from /dev/null', async () => {
    const { output, text } = await call('write_file', { path: 'src/scenes/new/Outro.tsx', content: 'export const Outro = 1;\n' });
    expect(await readFile(path.join(workspace, 'src/scenes/new/Outro.tsx'), 'utf8')).toBe('export const Outro = 1;\n');
    expect(output).toMatchObject({ path: 'src/scenes/new/Outro.tsx', created: true });
    expect(output.diff).toContain('--- /dev/null');
    expect(output.diff).toContain('+++ b/src/scenes/new/Outro.tsx');
    expect(output.diff).toContain('+export const Outro = 1;');
    expect(text).toBe('Created src/scenes/new/Outro.tsx.');
  });

  it('replaces a file, with a diff of the change', async () => {
    const { output, text } = await call('write_file', { path: 'src/Root.tsx', content: 'export const Root = () => 1;\n' });
    expect(output.created).toBe(false);
    expect(output.diff).toContain('-export const Root = () => null;');
    expect(output.diff).toContain('+export const Root = () => 1;');
    expect(text).toBe('Wrote src/Root.tsx.');
  });

  it.each([['../x'], ['../escape.txt'], ['/etc/passwd'], ['src/leak.txt'], ['src/outside/new.txt'], ['node_modules/x/index.js'], ['src/node_modules/x.js'], ['.git/config']])(
    'refuses %j and writes nothing',
    async (given) => {
      await expect(call('write_file', { path: given, content: 'pwned' })).rejects.toBeInstanceOf(PathRefused);
    },
  );

  it('leaves files outside untouched when refused', async () => {
    await call('write_file', { path: 'src/leak.txt', content: 'pwned' }).catch(() => undefined);
    await call('write_file', { path: '../x', content: 'pwned' }).catch(() => undefined);
    await call('write_file', { path: '.git/config', content: 'pwned' }).catch(() => undefined);
    expect(await readFile(path.join(dir, 'secret.txt'), 'utf8')).toBe('the secret\n');
    expect(await readFile(path.join(workspace, '.git', 'config'), 'utf8')).toBe('[core]\n');
    await expect(stat(path.join(dir, 'x'))).rejects.toThrow();
  });

  it('refuses content over the size cap and a folder as the target', async () => {
    await expect(call('write_file', { path: 'src/big.ts', content: 'x'.repeat(1_001) })).rejects.toThrow(/one file may be at most 1000 bytes/);
    // Bytes, not characters: 400 three-byte characters are 1,200 bytes.
    await expect(call('write_file', { path: 'src/big.ts', content: '€'.repeat(400) })).rejects.toThrow(/1\.2 KiB/);
    await expect(stat(path.join(workspace, 'src/big.ts'))).rejects.toThrow();
    await expect(call('write_file', { path: 'src/scenes', content: 'x' })).rejects.toThrow(/is a folder/);
  });

  it('refuses writes past the turn\'s budget, and an edit whose result is over the file cap', async () => {
    const budget = createWriteBudget({ maxFileBytes: 1_000, maxTurnBytes: 1_500 });
    tools = createFileTools({ workspace, budget });
    await call('write_file', { path: 'src/a.ts', content: `${'a'.repeat(890)}0123456789` });
    await expect(call('write_file', { path: 'src/b.ts', content: 'b'.repeat(900) })).rejects.toThrow(/this turn has written 900 bytes already/);
    await expect(stat(path.join(workspace, 'src/b.ts'))).rejects.toThrow();
    budget.reset();
    await expect(call('edit_file', { path: 'src/a.ts', old_string: '0123456789', new_string: 'c'.repeat(200) })).rejects.toThrow(/would be 1\.1 KiB/);
    expect(await readFile(path.join(workspace, 'src/a.ts'), 'utf8')).toBe(`${'a'.repeat(890)}0123456789`);
    await call('write_file', { path: 'src/b.ts', content: 'b'.repeat(900) });
  });
});

describe('edit_file', () => {
  it('replaces text that occurs exactly once, with a diff', async () => {
    const { output, text } = await call('edit_file', { path: 'src/scenes/Intro.tsx', old_string: '"Hello"', new_string: '"Hi $&"' });
    expect(await readFile(path.join(workspace, 'src/scenes/Intro.tsx'), 'utf8')).toBe('const title = "Hi $&";\nconst color = "red";\nconst other = "red";\n');
    expect(output).toMatchObject({ path: 'src/scenes/Intro.tsx', created: false });
    expect(output.diff).toContain('-const title = "Hello";');
    expect(output.diff).toContain('+const title = "Hi $&";');
    expect(text).toBe('Edited src/scenes/Intro.tsx.');
  });

  it('refuses text that does not occur', async () => {
    await expect(call('edit_file', { path: 'src/scenes/Intro.tsx', old_string: 'blue', new_string: 'green' })).rejects.toThrow(
      /old_string does not occur in src\/scenes\/Intro.tsx/,
    );
  });

  it('refuses text that occurs twice, saying how many times', async () => {
    const before = await readFile(path.join(workspace, 'src/scenes/Intro.tsx'), 'utf8');
    await expect(call('edit_file', { path: 'src/scenes/Intro.tsx', old_string: '"red"', new_string: '"blue"' })).rejects.toThrow(
      /old_string occurs 2 times in src\/scenes\/Intro.tsx; it must occur exactly once/,
    );
    expect(await readFile(path.join(workspace, 'src/scenes/Intro.tsx'), 'utf8')).toBe(before);
  });

  it('refuses an empty or unchanged old_string and a missing file', async () => {
    await expect(call('edit_file', { path: 'src/Root.tsx', old_string: '', new_string: 'x' })).rejects.toThrow(/use write_file/);
    await expect(call('edit_file', { path: 'src/Root.tsx', old_string: 'Root', new_string: 'Root' })).rejects.toThrow(/the same/);
    await expect(call('edit_file', { path: 'src/Nope.tsx', old_string: 'a', new_string: 'b' })).rejects.toThrow('src/Nope.tsx does not exist.');
  });

  it.each([['../secret.txt'], ['/etc/passwd'], ['src/leak.txt'], ['node_modules/remotion/package.json'], ['.git/config']])('refuses %j', async (given) => {
    await expect(call('edit_file', { path: given, old_string: 'secret', new_string: 'pwned' })).rejects.toBeInstanceOf(PathRefused);
  });
});

import type * as ChildProcess from 'node:child_process';
import { describe, expect, it, vi } from 'vitest';

// The server's process starts one thing only, the helper (once): the mocked module fails
// every other spawn here, so a command started from the server itself fails its test.
const helperStarts = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:child_process', async (importOriginal) => {
  const original = await importOriginal<typeof ChildProcess>();
  const refuse = () => {
    throw new Error('spawned from the server process');
  };
  const spawn = ((file: string, args: string[], options: ChildProcess.SpawnOptions) => {
    if (file !== process.execPath || !args.includes('-e')) refuse();
    helperStarts.count++;
    return original.spawn(file, args, options);
  }) as typeof original.spawn;
  return { ...original, spawn, execFile: refuse, exec: refuse, fork: refuse };
});

const { OffLoopCommandError, execFileOffLoop, execFileOffLoopOrThrow } = await import('./exec-off-loop.js');

describe('execFileOffLoop', () => {
  it('runs the command from the helper and gives back what it printed, arguments as they are', async () => {
    const result = await execFileOffLoop('printf', ['%s|%s', 'a b', '$HOME;']);
    expect(result).toEqual({ stdout: 'a b|$HOME;', stderr: '', error: null });
  });

  it('reports an exit code and what was printed before it, and a command that cannot start', async () => {
    const failed = await execFileOffLoop('sh', ['-c', 'echo partial; echo oops >&2; exit 3']);
    expect(failed).toMatchObject({ stdout: 'partial\n', stderr: 'oops\n', error: { code: 3 } });
    const missing = await execFileOffLoop('/nonexistent/command', []);
    expect(missing.error).not.toBeNull();
  });

  it('runs in the given folder with the given environment and input only', async () => {
    const result = await execFileOffLoop('sh', ['-c', 'pwd; echo "$ONLY-${HOME:-none}"; cat'], { cwd: '/tmp', env: { ONLY: 'given', PATH: '/usr/bin:/bin' }, input: 'from stdin' });
    expect(result).toEqual({ stdout: '/tmp\ngiven-none\nfrom stdin', stderr: '', error: null });
  });

  it('rejects, as execFile does, with the exit code and the output (OrThrow)', async () => {
    await expect(execFileOffLoopOrThrow('echo', ['fine'])).resolves.toBe('fine\n');
    const failure = await execFileOffLoopOrThrow('sh', ['-c', 'echo nope >&2; exit 128']).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OffLoopCommandError);
    expect(failure).toMatchObject({ code: 128, stderr: 'nope\n' });
    await expect(execFileOffLoopOrThrow('/nonexistent/command', [])).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('runs commands side by side, each answer to its own caller', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, index) => execFileOffLoop('echo', [String(index)])));
    expect(results.map((result) => result.stdout.trim())).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    // Every command so far went through one helper.
    expect(helperStarts.count).toBe(1);
  });

  it('answers the commands of a helper that dies with an error, and starts a new one for the next', async () => {
    const helperPid = Number((await execFileOffLoopOrThrow('sh', ['-c', 'echo $PPID'])).trim());
    const running = execFileOffLoop('sleep', ['3']);
    process.kill(helperPid, 'SIGKILL');
    expect((await running).error?.message).toMatch(/the command helper exited/);
    await expect(execFileOffLoopOrThrow('echo', ['again'])).resolves.toBe('again\n');
    expect(helperStarts.count).toBe(2);
  });
});

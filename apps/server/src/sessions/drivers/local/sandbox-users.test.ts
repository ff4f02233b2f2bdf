import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createSandboxUsers, switchUserArguments } from './sandbox-users.js';

describe('sandbox users', () => {
  it('hands out distinct unprivileged ids while they are in use', () => {
    const users = createSandboxUsers({ logger: pino({ level: 'silent' }), enabled: true });
    const taken = Array.from({ length: 200 }, () => users.take()!);
    expect(new Set(taken).size).toBe(200);
    expect(taken.every((uid) => uid >= 200_000)).toBe(true);
    expect(switchUserArguments(taken[0]!)).toEqual([`--reuid=${taken[0]}`, `--regid=${taken[0]}`, '--clear-groups', '--no-new-privs']);
  });

  it('where users cannot be switched, sandboxes share the server user, and the log says so once', () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const users = createSandboxUsers({ logger, enabled: false });
    expect(users.take()).toBeUndefined();
    expect(users.take()).toBeUndefined();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('does not run as root');
  });
});

import { describe, expect, it } from 'vitest';
import {
  AUTO_FIX_OTHER_TAB_DELAY_MS,
  AUTO_FIX_SETTLE_MS,
  AUTO_FIX_WATCH_MS,
  type PreviewProblem,
  autoFixReport,
  decideAutoFix,
  errorKey,
  trimStack,
} from './auto-fix';

// As the preview page reports it (paths relative to the working copy).
const stack = [
  'Error: Boom from the scene',
  '    at Title (src/scenes/TitleScene.tsx:7:18)',
  '    at Object.react_stack_bottom_frame (http://127.0.0.1:8090/s/abc/@fs/data/cache/deps/react-dom_client.js?v=61953129:14177:12)',
  '    at renderWithHooks (http://127.0.0.1:8090/s/abc/@fs/data/cache/deps/react-dom_client.js?v=61953129:4419:19)',
  '    at PreviewPlayer (http://127.0.0.1:8090/s/abc/main.tsx:210:3)',
].join('\n');
const componentStack = [
  '    at Title (src/scenes/TitleScene.tsx:5:18)',
  '    at div (<anonymous>)',
  '    at AbsoluteFillElementRefForwarding (http://127.0.0.1:8090/s/abc/@fs/data/cache/deps/remotion.js?v=61953129:348:10)',
  '    at ErrorBoundary (http://127.0.0.1:8090/s/abc/@fs/data/sandboxes/abc/vite/deps/@remotion_player.js?v=a42a1a3e:3050:21)',
  '    at TitleScene (src/scenes/TitleScene.tsx:60:3)',
].join('\n');

describe('errorKey', () => {
  it('is the same for the same error however it is reported', () => {
    expect(errorKey('Failed at src/scenes/TitleScene.tsx?t=1712345:12:5', 'src/scenes/TitleScene.tsx')).toBe(
      errorKey('Failed at  src/scenes/TitleScene.tsx:40:1', 'src/scenes/TitleScene.tsx'),
    );
    expect(errorKey('Failed to fetch http://127.0.0.1:8090/s/one/main.tsx', null)).toBe(errorKey('Failed to fetch http://127.0.0.1:8090/s/two/main.tsx', null));
    expect(errorKey('Boom', 'src/a.tsx')).not.toBe(errorKey('Boom', 'src/b.tsx'));
    expect(errorKey('Boom', null)).not.toBe(errorKey('Bang', null));
  });
});

describe('the report', () => {
  it("keeps the project's frames and drops the dependencies'", () => {
    const trimmed = trimStack(stack, 'Boom from the scene')!;
    expect(trimmed.split('\n')).toEqual(['    at Title (src/scenes/TitleScene.tsx:7:18)', '    … 3 more frames (dependencies and the preview page)']);
  });

  it('keeps a build error’s code frame', () => {
    const trimmed = trimStack('  33 | const a = = 1;\n     |           ^\n    at transformWithOxc (file:///app/node_modules/vite/dist/node.js:1:1)', 'Transform failed')!;
    expect(trimmed).toContain('const a = = 1;');
    expect(trimmed).not.toContain('transformWithOxc');
  });

  it('starts "The preview shows an error" and has the message, file, stack and component stack', () => {
    const report = autoFixReport({ message: 'Boom from the scene', file: 'src/scenes/TitleScene.tsx', stack, componentStack });
    expect(report.startsWith('The preview shows an error')).toBe(true);
    expect(report).toContain('Error: Boom from the scene');
    expect(report).toContain('File: src/scenes/TitleScene.tsx');
    expect(report).toContain('at Title (src/scenes/TitleScene.tsx:7:18)');
    expect(report).toContain('Component stack:\n    at Title (src/scenes/TitleScene.tsx:5:18)');
    expect(report).toContain('at TitleScene (src/scenes/TitleScene.tsx:60:3)');
    expect(report).not.toContain('react-dom_client');
    expect(report).not.toContain('remotion.js');
    expect(report).not.toContain('@remotion_player.js');
    expect(report).not.toContain('<anonymous>');
    expect(report.split('Component stack:\n')[1]).toBe('    at Title (src/scenes/TitleScene.tsx:5:18)\n    at TitleScene (src/scenes/TitleScene.tsx:60:3)');
  });

  it('stays within the message limit', () => {
    const report = autoFixReport({ message: 'x'.repeat(50_000), file: null, stack: 'y'.repeat(60_000), componentStack: null });
    expect(report.length).toBeLessThanOrEqual(20_000);
  });
});

describe('decideAutoFix', () => {
  const completion = { at: 10_000, own: true, status: 'done' as const };
  const problem = (since: number): PreviewProblem => ({ key: 'boom', message: 'Boom', file: null, stack: null, componentStack: null, since });
  const decide = (input: Partial<Parameters<typeof decideAutoFix>[0]>) =>
    decideAutoFix({ now: completion.at, completion, problem: null, busy: false, attempts: 0, ...input });

  it('does nothing without a turn this tab saw end (an error the page opened with is not fixed)', () => {
    expect(decide({ completion: null, problem: problem(0), now: 60_000 })).toEqual({ kind: 'idle' });
  });

  it('stands down while a turn runs or waits, and after a turn that was cancelled or failed', () => {
    expect(decide({ problem: problem(9_000), busy: true, now: 20_000 })).toEqual({ kind: 'done' });
    expect(decide({ completion: { ...completion, status: 'cancelled' }, problem: problem(9_000), now: 20_000 })).toEqual({ kind: 'done' });
    expect(decide({ completion: { ...completion, status: 'failed' }, problem: problem(9_000), now: 20_000 })).toEqual({ kind: 'done' });
  });

  it('waits for hot reload to settle, then sends when the error is still there', () => {
    expect(decide({ problem: problem(9_000), now: 10_100 })).toEqual({ kind: 'wait', until: 10_000 + AUTO_FIX_SETTLE_MS });
    expect(decide({ problem: problem(9_000), now: 10_000 + AUTO_FIX_SETTLE_MS })).toEqual({ kind: 'send' });
  });

  it('an error that appears within the watch after the turn counts, settled from when it appeared', () => {
    expect(decide({ now: 11_000 })).toEqual({ kind: 'wait', until: 10_000 + AUTO_FIX_WATCH_MS });
    expect(decide({ problem: problem(13_000), now: 13_000 })).toEqual({ kind: 'wait', until: 13_000 + AUTO_FIX_SETTLE_MS });
    expect(decide({ problem: problem(13_000), now: 14_600 })).toEqual({ kind: 'send' });
    expect(decide({ now: 10_000 + AUTO_FIX_WATCH_MS })).toEqual({ kind: 'done' });
    expect(decide({ problem: problem(10_001 + AUTO_FIX_WATCH_MS), now: 30_000 })).toEqual({ kind: 'done' });
  });

  it('stops after the last attempt for the same error', () => {
    expect(decide({ problem: problem(9_000), now: 20_000, attempts: 2 })).toEqual({ kind: 'send' });
    expect(decide({ problem: problem(9_000), now: 20_000, attempts: 3 })).toEqual({ kind: 'stop' });
  });

  it('lets the tab that sent the message go first', () => {
    const other = { ...completion, own: false };
    const ready = 10_000 + AUTO_FIX_OTHER_TAB_DELAY_MS + AUTO_FIX_SETTLE_MS;
    expect(decide({ completion: other, problem: problem(9_000), now: 11_600 })).toEqual({ kind: 'wait', until: ready });
    expect(decide({ completion: other, problem: problem(9_000), now: ready })).toEqual({ kind: 'send' });
  });
});

import type { AgentAction } from '@cutroom/protocol';
import { describe, expect, it } from 'vitest';
import { describeAction, diffLines, diffStats } from './agent-actions';

const action = (fields: Partial<AgentAction>): AgentAction => ({ id: 'a', tool: 'read', name: 'Read', status: 'done', ...fields });

describe('agent actions', () => {
  it('says what each tool did, does, or failed to do', () => {
    expect(describeAction(action({ tool: 'read', path: 'src/Root.tsx' }))).toBe('Read src/Root.tsx');
    expect(describeAction(action({ tool: 'read', path: 'src/Root.tsx', status: 'running' }))).toBe('Reading src/Root.tsx');
    expect(describeAction(action({ tool: 'edit', path: 'src/scenes/TitleScene.tsx', diff: '@@ -1 +1 @@\n-a\n+b' }))).toBe('Edited src/scenes/TitleScene.tsx');
    expect(describeAction(action({ tool: 'write', path: 'src/scenes/Outro.tsx', diff: '--- /dev/null\n+++ b/src/scenes/Outro.tsx\n@@ -0,0 +1,2 @@\n+a\n+b' }))).toBe(
      'Created src/scenes/Outro.tsx',
    );
    expect(describeAction(action({ tool: 'write', path: 'src/Root.tsx', diff: '@@ -1,2 +1,2 @@\n-a\n+b' }))).toBe('Rewrote src/Root.tsx');
    expect(describeAction(action({ tool: 'edit', path: 'src/x.tsx', status: 'failed', error: 'Not found' }))).toBe('Could not edit src/x.tsx');
    expect(describeAction(action({ tool: 'list' }))).toBe('Listed the files');
    expect(describeAction(action({ tool: 'other', name: 'Bash' }))).toBe('Ran Bash');
    expect(describeAction(action({ tool: 'read', name: 'view_frame', status: 'running' }))).toBe('Rendering a frame to look at');
    expect(describeAction(action({ tool: 'read', name: 'view_frame' }))).toBe('Looked at a frame of the video');
    expect(describeAction(action({ tool: 'read', name: 'view_frame', status: 'failed', error: 'No such composition' }))).toBe('Could not render a frame');
  });

  it('reads a unified diff as coloured lines, without git’s header lines', () => {
    const diff = 'diff --git a/x b/x\nindex 1..2 100644\n--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n keep\n-old\n+new\n\\ No newline at end of file\n';
    expect(diffLines(diff).map((line) => line.kind)).toEqual(['file', 'file', 'hunk', 'context', 'remove', 'add', 'note']);
    expect(diffStats(diff)).toEqual({ added: 1, removed: 1 });
  });
});

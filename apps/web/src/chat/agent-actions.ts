import type { AgentAction } from '@cutroom/protocol';

/** A write whose diff starts from nothing made the file. */
const createsFile = (diff: string | undefined) => diff !== undefined && (/^--- \/dev\/null$/m.test(diff) || /^@@ -0,0 /m.test(diff));

const verbs: Record<AgentAction['tool'], { running: string; done: string; failed: string }> = {
  read: { running: 'Reading', done: 'Read', failed: 'Could not read' },
  edit: { running: 'Editing', done: 'Edited', failed: 'Could not edit' },
  write: { running: 'Writing', done: 'Rewrote', failed: 'Could not write' },
  list: { running: 'Listing', done: 'Listed', failed: 'Could not list' },
  search: { running: 'Searching', done: 'Searched', failed: 'Could not search' },
  other: { running: 'Running', done: 'Ran', failed: 'Could not run' },
};

/** One line for an action, in the words of the UI: "Read src/Root.tsx", "Edited …", "Created …". */
export function describeAction(action: AgentAction): string {
  // view_frame (either runner): the agent looked at a frame of the video it renders.
  if (action.name === 'view_frame') return { running: 'Rendering a frame to look at', done: 'Looked at a frame of the video', failed: 'Could not render a frame' }[action.status];
  const target = action.path ?? (action.tool === 'list' ? 'the files' : action.tool === 'search' ? 'the project' : action.tool === 'other' ? action.name : 'a file');
  if (action.tool === 'write' && action.status === 'done' && createsFile(action.diff)) return `Created ${target}`;
  return `${verbs[action.tool][action.status]} ${target}`;
}

export type DiffLine = { kind: 'add' | 'remove' | 'context' | 'hunk' | 'file' | 'note'; text: string };

/** A unified diff as lines to colour; git's own header lines are left out. */
export function diffLines(diff: string): DiffLine[] {
  const lines = diff.replace(/\n$/, '').split('\n');
  const result: DiffLine[] = [];
  // Before a file's first hunk, `---`/`+++` name the file; inside one, they are lines.
  let inHunk = false;
  for (const text of lines) {
    if (/^diff --git /.test(text)) inHunk = false;
    if (!inHunk && /^(diff --git|index |new file mode|deleted file mode|similarity index|rename (from|to) )/.test(text)) continue;
    if (!inHunk && (text.startsWith('+++ ') || text.startsWith('--- '))) result.push({ kind: 'file', text });
    else if (text.startsWith('@@')) {
      inHunk = true;
      result.push({ kind: 'hunk', text });
    }
    else if (text.startsWith('+')) result.push({ kind: 'add', text });
    else if (text.startsWith('-')) result.push({ kind: 'remove', text });
    else if (text.startsWith('\\')) result.push({ kind: 'note', text });
    else result.push({ kind: 'context', text });
  }
  return result;
}

/** Lines added and removed, for the summary beside an edit. */
export function diffStats(diff: string): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const line of diffLines(diff)) {
    if (line.kind === 'add') added++;
    else if (line.kind === 'remove') removed++;
  }
  return { added, removed };
}

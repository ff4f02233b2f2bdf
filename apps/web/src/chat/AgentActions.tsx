import type { AgentAction } from '@cutroom/protocol';
import { useId, useState } from 'react';
import { Spinner } from '../components/Spinner';
import { describeAction, diffLines, diffStats, type DiffLine } from './agent-actions';

/** The agent's tool calls in a turn, one compact line each; edits open to their diff. */
export function AgentActions({ actions }: { actions: AgentAction[] }) {
  if (actions.length === 0) return null;
  return (
    <ul aria-label="Actions" className="space-y-1">
      {actions.map((action) => (
        <ActionItem key={action.id} action={action} />
      ))}
    </ul>
  );
}

function ActionItem({ action }: { action: AgentAction }) {
  const [open, setOpen] = useState(false);
  const diffId = useId();
  const label = describeAction(action);
  const failed = action.status === 'failed';
  const stats = action.diff ? diffStats(action.diff) : null;
  const line = (
    <>
      <ActionIcon action={action} />
      <span className={`min-w-0 flex-1 truncate ${failed ? 'text-red-300' : 'text-zinc-300'}`} title={label}>
        {label}
      </span>
      {stats && (
        <span className="shrink-0 font-mono text-[11px] tabular-nums" aria-hidden="true">
          <span className="text-emerald-400">+{stats.added}</span> <span className="text-red-400">−{stats.removed}</span>
        </span>
      )}
    </>
  );
  return (
    <li data-testid="agent-action" data-status={action.status} data-tool={action.tool} className="text-xs">
      {action.diff ? (
        <button
          type="button"
          aria-expanded={open}
          aria-controls={diffId}
          onClick={() => setOpen((value) => !value)}
          className="flex w-full items-center gap-2 rounded-md px-1.5 py-1 text-left hover:bg-ink-800"
        >
          {line}
          <svg viewBox="0 0 20 20" aria-hidden="true" className={`size-3.5 shrink-0 text-zinc-500 transition-transform ${open ? 'rotate-90' : ''}`} fill="currentColor">
            <path d="M7 5l6 5-6 5z" />
          </svg>
        </button>
      ) : (
        <div className="flex items-center gap-2 px-1.5 py-1">{line}</div>
      )}
      {failed && action.error && <p className="ml-7 mt-0.5 whitespace-pre-wrap text-red-300/90">{action.error}</p>}
      {action.diff && open && <DiffView id={diffId} diff={action.diff} label={`Diff of ${action.path ?? label}`} />}
    </li>
  );
}

function ActionIcon({ action }: { action: AgentAction }) {
  if (action.status === 'running') return <Spinner className="size-3.5 shrink-0 text-brand-400" />;
  if (action.status === 'failed') {
    return (
      <svg viewBox="0 0 20 20" aria-hidden="true" className="size-3.5 shrink-0 text-red-400" fill="none" stroke="currentColor" strokeWidth="2.5" strokeLinecap="round">
        <path d="M5 5l10 10M15 5L5 15" />
      </svg>
    );
  }
  const changes = action.tool === 'edit' || action.tool === 'write';
  return (
    <svg viewBox="0 0 20 20" aria-hidden="true" className={`size-3.5 shrink-0 ${changes ? 'text-brand-400' : 'text-zinc-500'}`} fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinejoin="round">
      {changes ? <path d="M4 16h3l8.5-8.5-3-3L4 13v3zM11 6l3 3" /> : <path d="M5 2.5h6.5L15 6v11.5H5zM11.5 2.5V6H15" />}
    </svg>
  );
}

const lineStyles: Record<DiffLine['kind'], string> = {
  add: 'bg-emerald-500/15 text-emerald-200',
  remove: 'bg-red-500/15 text-red-200',
  context: 'text-zinc-400',
  hunk: 'text-sky-300/80',
  file: 'text-zinc-500',
  note: 'text-zinc-500 italic',
};

/** A unified diff, coloured by line, in monospace. */
export function DiffView({ id, diff, label }: { id: string; diff: string; label: string }) {
  return (
    <div id={id} role="region" aria-label={label} data-testid="action-diff" className="mt-1 max-h-80 overflow-auto rounded-lg bg-ink-950 ring-1 ring-ink-700">
      <pre className="min-w-max py-1.5 font-mono text-[11px] leading-5">
        {diffLines(diff).map((line, index) => (
          <span key={index} data-line={line.kind} className={`block px-2.5 ${lineStyles[line.kind]}`}>
            {line.text || ' '}
          </span>
        ))}
      </pre>
    </div>
  );
}

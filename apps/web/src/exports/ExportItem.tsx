import type { Export } from '@cutroom/protocol';
import { useId, useState } from 'react';
import { ApiError } from '../api/client';
import { Button } from '../components/Button';
import { DownloadLink } from '../components/DownloadLink';
import { exactTime, timeAgo } from '../lib/time';
import { exportTitle, fileSize, isFinished, percentDone, shortVersion, statusText } from './export-state';

/** One export in the dialog's "Recent exports": what it renders, its progress, Cancel or Download. */
export function ExportItem({ item, now, current, onCancel }: { item: Export; now: number; current: boolean; onCancel: () => Promise<unknown> }) {
  const [cancelling, setCancelling] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const titleId = useId();
  const running = !isFinished(item);
  const percent = percentDone(item);

  async function cancel() {
    setCancelling(true);
    setError(null);
    try {
      await onCancel();
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : 'The export could not be cancelled. Try again.');
    } finally {
      setCancelling(false);
    }
  }

  return (
    <li aria-labelledby={titleId} data-testid="export" data-status={item.status} className="rounded-xl bg-ink-900 p-3 ring-1 ring-ink-700">
      <div className="flex items-start gap-3">
        <div className="min-w-0 flex-1">
          <p id={titleId} className="truncate text-sm font-medium text-zinc-100">
            {exportTitle(item)}
          </p>
          <p className="mt-0.5 flex flex-wrap items-center gap-x-1.5 text-xs text-zinc-400">
            <span>
              Version{' '}
              <span data-testid="export-version" className="font-mono text-zinc-300" title={item.version}>
                {shortVersion(item.version)}
              </span>
              {current && ' (current)'}
            </span>
            <span aria-hidden="true">·</span>
            <time dateTime={item.createdAt} title={exactTime(item.createdAt)}>
              {timeAgo(item.createdAt, now)}
            </time>
          </p>
        </div>
        {running && (
          <Button variant="secondary" className="h-8 shrink-0 px-3" busy={cancelling} onClick={() => void cancel()}>
            Cancel
          </Button>
        )}
        {item.status === 'done' && item.downloadUrl && (
          <DownloadLink href={item.downloadUrl} className="h-8 shrink-0 px-3">
            Download
            {item.sizeBytes !== null && <span className="text-xs font-normal text-white/75">{fileSize(item.sizeBytes)}</span>}
          </DownloadLink>
        )}
      </div>
      <p
        data-testid="export-status"
        className={`mt-2 text-xs tabular-nums ${item.status === 'failed' ? 'text-red-300' : item.status === 'done' ? 'text-emerald-300' : item.status === 'cancelled' ? 'text-zinc-400' : 'text-zinc-300'}`}
      >
        {statusText(item)}
      </p>
      {running && (
        <div
          role="progressbar"
          aria-label="Export progress"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={percent}
          aria-valuetext={statusText(item)}
          className="mt-2 h-1.5 overflow-hidden rounded-full bg-ink-700"
        >
          <div
            className={`h-full rounded-full bg-brand-500 transition-[width] duration-300 ${item.status === 'rendering' ? '' : 'animate-pulse'}`}
            style={{ width: `${item.status === 'rendering' ? Math.max(2, percent) : 2}%` }}
          />
        </div>
      )}
      {error && (
        <p role="alert" className="mt-2 text-xs text-red-300">
          {error}
        </p>
      )}
    </li>
  );
}

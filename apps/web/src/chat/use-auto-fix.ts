import { useCallback, useEffect, useState } from 'react';
import type { PreviewErrorReport } from '../session/PreviewPanel';
import { AUTO_FIX_STOPPED } from './chat-state';
import { type PreviewProblem, autoFixReport, decideAutoFix, errorKey } from './auto-fix';
import type { Chat } from './use-chat';

/**
 * Automatic fixes: follows the error the current preview shows (from the preview
 * panel's reports; the same error reported again keeps the time it first showed; a
 * preview that renders again, or a new preview, has none), and sends the agent a report
 * when its turn leaves the preview broken (see `decideAutoFix`), at most
 * `AUTO_FIX_MAX_ATTEMPTS` times for the same error; then the chat says it stopped. Only
 * turns this tab saw end arm it: an error the page opened with is shown, not fixed.
 * Returns the preview panel's `onError` and `onRecover`.
 */
export function useAutoFix(chat: Chat, previewUrl: string | undefined) {
  const [current, setCurrent] = useState<{ previewUrl: string | undefined; problem: PreviewProblem } | null>(null);
  const problem = current && current.previewUrl === previewUrl ? current.problem : null;
  const { completion, autoFixAttempts } = chat.state;
  const { busy, send, dispatch } = chat;
  const attempts = problem ? (autoFixAttempts[problem.key] ?? 0) : 0;

  const onError = useCallback(
    (report: PreviewErrorReport) =>
      setCurrent((last) => {
        const key = errorKey(report.message, report.file);
        if (last && last.previewUrl === previewUrl && last.problem.key === key) return last;
        return { previewUrl, problem: { ...report, key, since: Date.now() } };
      }),
    [previewUrl],
  );
  const onRecover = useCallback(() => {
    setCurrent(null);
    // The video renders: an error that comes back later gets its attempts afresh.
    dispatch({ type: 'preview:recovered' });
  }, [dispatch]);

  useEffect(() => {
    if (!completion) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const evaluate = () => {
      const decision = decideAutoFix({ now: Date.now(), completion, problem, busy, attempts });
      switch (decision.kind) {
        case 'idle':
          return;
        case 'wait':
          timer = setTimeout(evaluate, Math.max(0, decision.until - Date.now()));
          return;
        case 'done':
          dispatch({ type: 'autoFix:done' });
          return;
        case 'stop':
          dispatch({ type: 'autoFix:stop', message: AUTO_FIX_STOPPED });
          return;
        case 'send':
          if (problem) send(autoFixReport(problem), { autoFixKey: problem.key });
          return;
      }
    };
    timer = setTimeout(evaluate, 0);
    return () => clearTimeout(timer);
  }, [completion, problem, busy, attempts, send, dispatch]);

  return { problem, onError, onRecover };
}

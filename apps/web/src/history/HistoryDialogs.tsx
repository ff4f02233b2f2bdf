import { Button } from '../components/Button';
import { Dialog } from '../components/Dialog';
import { exactTime } from '../lib/time';
import type { ConfirmationState, VersionHistory } from './use-history';

const SAVED_AS_VERSION = 'This is saved as a new version, so you can undo it.';

/**
 * The confirmations of the history: "Restore version" and "Undo last change". They say
 * what will happen; a refusal (the agent is working: 409) stays in the dialog with the
 * server's words. Rendered once per page, outside the panels, so the chat can ask too.
 */
export function HistoryDialogs({ history }: { history: VersionHistory }) {
  const { confirmation } = history;
  return (
    <>
      <Dialog
        open={confirmation?.kind === 'restore'}
        onClose={history.cancelConfirmation}
        title="Restore version"
        description={
          confirmation?.kind === 'restore' && (
            <>
              The project’s files become as they were in this version, “{confirmation.version.message}” ({exactTime(confirmation.version.createdAt)}).{' '}
              {SAVED_AS_VERSION}
            </>
          )
        }
      >
        {confirmation && <ConfirmButtons confirmation={confirmation} label="Restore" onCancel={history.cancelConfirmation} onConfirm={history.confirm} />}
      </Dialog>
      <Dialog
        open={confirmation?.kind === 'undo'}
        onClose={history.cancelConfirmation}
        title="Undo last change"
        description={
          confirmation?.kind === 'undo' && (
            <>
              This undoes “{confirmation.current.message}”: the project’s files become as they were before it. {SAVED_AS_VERSION}
            </>
          )
        }
      >
        {confirmation && <ConfirmButtons confirmation={confirmation} label="Undo" onCancel={history.cancelConfirmation} onConfirm={history.confirm} />}
      </Dialog>
    </>
  );
}

function ConfirmButtons({
  confirmation,
  label,
  onCancel,
  onConfirm,
}: {
  confirmation: ConfirmationState;
  label: string;
  onCancel: () => void;
  onConfirm: () => Promise<void>;
}) {
  return (
    <>
      {confirmation.error && (
        <p role="alert" className="mb-4 rounded-lg bg-red-950/50 px-3 py-2 text-sm text-red-200 ring-1 ring-red-900">
          {confirmation.error}
        </p>
      )}
      <div className="flex justify-end gap-2">
        <Button type="button" variant="ghost" onClick={onCancel} disabled={confirmation.pending} autoFocus>
          Cancel
        </Button>
        <Button type="button" busy={confirmation.pending} onClick={() => void onConfirm()}>
          {label}
        </Button>
      </div>
    </>
  );
}

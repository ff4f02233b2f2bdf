import { type MediaAsset, assetFilePath } from '@cutroom/protocol';
import { type DragEvent, useRef, useState } from 'react';
import { Button } from '../components/Button';
import { useToast } from '../components/Toasts';
import { ApiError } from '../api/client';
import { assetDetails, percentSent, sizeText } from './asset-format';
import { ACCEPTED_MEDIA, type Assets, type UploadItem } from './use-assets';

/** Files of a drop or a paste (folders and other items left out). */
export function droppedFiles(list: FileList | null | undefined): File[] {
  return list ? Array.from(list).filter((file) => file.size > 0 || file.type !== '') : [];
}

/** One upload's line: its name, a bar, and Cancel (or its error and Dismiss). */
export function UploadRow({ item, onCancel }: { item: UploadItem; onCancel: (id: string) => void }) {
  const percent = percentSent(item.sent, item.size);
  return (
    <li data-testid="upload-item" data-name={item.name} data-phase={item.phase} className="rounded-lg bg-ink-900 px-3 py-2 ring-1 ring-inset ring-ink-700">
      <div className="flex items-center gap-2 text-sm">
        <span className="min-w-0 flex-1 truncate" title={item.name}>
          {item.name}
        </span>
        <span className="shrink-0 text-xs text-zinc-400">
          {item.phase === 'uploading' ? `${percent}% of ${sizeText(item.size)}` : item.phase === 'checking' ? 'Checking…' : 'Not added'}
        </span>
        <button type="button" onClick={() => onCancel(item.id)} className="shrink-0 rounded px-1.5 text-xs text-zinc-400 hover:bg-ink-800 hover:text-zinc-100" aria-label={`${item.phase === 'failed' ? 'Dismiss' : 'Cancel'} ${item.name}`}>
          {item.phase === 'failed' ? 'Dismiss' : 'Cancel'}
        </button>
      </div>
      {item.phase === 'failed' ? (
        <p role="alert" className="mt-1 text-xs text-red-400">
          {item.error}
        </p>
      ) : (
        <progress className="mt-1.5 h-1.5 w-full overflow-hidden rounded accent-brand-500" max={100} value={item.phase === 'checking' ? 100 : percent} aria-label={`Uploading ${item.name}`} />
      )}
    </li>
  );
}

/** A small picture of a media file: the image itself, a video's first frame, a font's letters. */
function AssetThumb({ projectId, asset }: { projectId: string; asset: MediaAsset }) {
  const url = assetFilePath(projectId, asset.name);
  const box = 'flex size-14 shrink-0 items-center justify-center overflow-hidden rounded-md bg-ink-950 ring-1 ring-inset ring-ink-700';
  if (asset.kind === 'image') return <img src={url} alt="" className={`${box} object-contain`} loading="lazy" />;
  if (asset.kind === 'video') return <video src={`${url}#t=0.1`} className={`${box} object-cover`} preload="metadata" muted aria-hidden />;
  if (asset.kind === 'font') return <div className={`${box} text-lg text-zinc-200`} aria-hidden>Aa</div>;
  return (
    <div className={`${box} text-zinc-400`} aria-hidden>
      <svg viewBox="0 0 24 24" className="size-6" fill="none" stroke="currentColor" strokeWidth={1.8}>
        <path d="M9 18V5l12-2v13M9 18a3 3 0 1 1-6 0 3 3 0 0 1 6 0Zm12-2a3 3 0 1 1-6 0 3 3 0 0 1 6 0Z" />
      </svg>
    </div>
  );
}

/**
 * The project's media beside Chat and History: drop files or pick them to upload (each
 * with its progress and a Cancel), see what the current version holds, use one in the next
 * message, or remove it (a new version; older versions keep it).
 */
export function AssetsPanel({ projectId, assets, onUseInMessage }: { projectId: string; assets: Assets; onUseInMessage: (name: string) => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const [removing, setRemoving] = useState<string | null>(null);
  const toast = useToast();
  const used = assets.assets.reduce((sum, asset) => sum + asset.size, 0);
  const panelUploads = assets.uploads.filter((item) => !item.forMessage);

  const start = (files: File[]) => {
    if (files.length > 0) void assets.upload(files);
  };
  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    start(droppedFiles(event.dataTransfer.files));
  };
  const remove = async (name: string) => {
    setRemoving(name);
    try {
      await assets.remove(name);
      toast(`Removed ${name}. Older versions still have it.`, 'success');
    } catch (error) {
      toast(error instanceof ApiError ? error.message : `${name} could not be removed.`, 'error');
    } finally {
      setRemoving(null);
    }
  };

  return (
    <section aria-label="Media" className="flex min-h-0 flex-1 flex-col gap-3 overflow-y-auto p-4">
      <div
        data-testid="media-dropzone"
        onDragOver={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
        className={`rounded-xl border border-dashed px-4 py-5 text-center text-sm ${dragging ? 'border-brand-400 bg-brand-500/10' : 'border-ink-600'}`}
      >
        <p className="text-zinc-300">Drop images, video, audio or fonts here</p>
        <p className="mt-1 text-xs text-zinc-500">
          PNG, JPEG, WebP, GIF, SVG · MP4, WebM, MOV · MP3, WAV, AAC, OGG · TTF, OTF, WOFF2
          {assets.limits ? ` · up to ${sizeText(assets.limits.fileBytes)} a file` : ''}
        </p>
        <Button type="button" variant="secondary" className="mt-3" onClick={() => input.current?.click()}>
          Upload files
        </Button>
        <input
          ref={input}
          type="file"
          multiple
          accept={ACCEPTED_MEDIA}
          className="sr-only"
          data-testid="media-file-input"
          aria-label="Upload media files"
          onChange={(event) => {
            start(droppedFiles(event.target.files));
            event.target.value = '';
          }}
        />
      </div>
      {panelUploads.length > 0 && (
        <ul aria-label="Uploads" className="flex flex-col gap-2">
          {panelUploads.map((item) => (
            <UploadRow key={item.id} item={item} onCancel={assets.cancel} />
          ))}
        </ul>
      )}
      {assets.listError && (
        <p role="alert" className="text-sm text-red-400">
          {assets.listError}
        </p>
      )}
      {assets.assets.length === 0 && !assets.listError ? (
        <p className="text-sm text-zinc-500">No media yet. Upload a logo, footage, music or a font, then ask the agent to use it.</p>
      ) : (
        <ul aria-label="Media files" className="flex flex-col gap-2">
          {[...assets.assets]
            .sort((a, b) => a.name.localeCompare(b.name))
            .map((asset) => (
              <li key={asset.name} data-testid="asset-item" data-name={asset.name} data-kind={asset.kind} className="flex items-center gap-3 rounded-lg bg-ink-900 p-2 ring-1 ring-inset ring-ink-700">
                <AssetThumb projectId={projectId} asset={asset} />
                <div className="min-w-0 flex-1">
                  <p className="truncate text-sm text-zinc-100" title={asset.name}>
                    {asset.name}
                  </p>
                  <p className="truncate text-xs text-zinc-400">{assetDetails(asset)}</p>
                  <div className="mt-1 flex gap-1">
                    <button type="button" onClick={() => onUseInMessage(asset.name)} className="rounded px-1.5 py-0.5 text-xs text-brand-300 hover:bg-ink-800">
                      Use in message
                    </button>
                    <button
                      type="button"
                      disabled={removing === asset.name}
                      onClick={() => void remove(asset.name)}
                      aria-label={`Remove ${asset.name}`}
                      className="rounded px-1.5 py-0.5 text-xs text-zinc-400 hover:bg-ink-800 hover:text-red-300 disabled:opacity-50"
                    >
                      Remove
                    </button>
                  </div>
                </div>
              </li>
            ))}
        </ul>
      )}
      {assets.limits && assets.assets.length > 0 && (
        <p className="text-xs text-zinc-500">
          {sizeText(used)} of {sizeText(assets.limits.projectBytes)} used
        </p>
      )}
    </section>
  );
}

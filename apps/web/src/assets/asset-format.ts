import type { MediaAsset } from '@cutroom/protocol';

const trim = (fixed: string) => fixed.replace(/\.0$/, '');

/** 1.2 MB, 256 MB, 340 KB, 12 bytes. */
export function sizeText(bytes: number): string {
  if (bytes >= 1024 * 1024 * 1024) return `${trim((bytes / (1024 * 1024 * 1024)).toFixed(1))} GB`;
  if (bytes >= 1024 * 1024) return `${trim((bytes / (1024 * 1024)).toFixed(1))} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

/** 0:07, 1:05, 1:02:03 (whole seconds, rounded). */
export function durationText(seconds: number): string {
  const total = Math.round(seconds);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}

/** What a media file is, in a line: "Video · 1920×1080 · 0:12 · 30 fps · 8.1 MB". */
export function assetDetails(asset: MediaAsset): string {
  const kind = { image: 'Image', video: 'Video', audio: 'Audio', font: 'Font' }[asset.kind];
  const parts = [kind];
  if (asset.fontFamily) parts.push(asset.fontFamily);
  if (asset.width && asset.height) parts.push(`${asset.width}×${asset.height}`);
  if (asset.durationSeconds) parts.push(durationText(asset.durationSeconds));
  if (asset.fps) parts.push(`${Math.round(asset.fps * 100) / 100} fps`);
  if (asset.kind === 'video' && asset.hasAudio === false) parts.push('no sound');
  parts.push(sizeText(asset.size));
  return parts.join(' · ');
}

/** The percentage of an upload sent, for its bar (0 for an empty file). */
export const percentSent = (sent: number, size: number) => (size > 0 ? Math.min(100, Math.floor((sent / size) * 100)) : 0);

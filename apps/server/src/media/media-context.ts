import type { MediaAsset, MediaManifest } from '@cutroom/protocol';

const sizeText = (bytes: number) =>
  bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MB` : bytes >= 1024 ? `${Math.round(bytes / 1024)} KB` : `${bytes} bytes`;

const formatOf = (asset: MediaAsset) => asset.mime.split('/')[1]?.replace('svg+xml', 'SVG').replace('quicktime', 'MOV').replace('mpeg', 'MP3').toUpperCase() ?? asset.mime;

/** One line of what a media file is, as the agent reads it. */
export function describeAsset(asset: MediaAsset): string {
  const parts = [`${asset.kind} (${formatOf(asset)}${asset.videoCodec ? `, ${asset.videoCodec}` : ''})`];
  if (asset.width && asset.height) parts.push(`${asset.width}×${asset.height}`);
  if (asset.fps) parts.push(`${asset.fps} fps`);
  if (asset.durationSeconds) parts.push(`${asset.durationSeconds.toFixed(2)} s`);
  if (asset.kind === 'video') parts.push(asset.hasAudio ? 'with sound' : 'no sound');
  if (asset.fontFamily) parts.push(`family "${asset.fontFamily}"`);
  parts.push(sizeText(asset.size));
  return `- ${asset.name}: ${parts.join(', ')}`;
}

/** The most files the block lists by name. */
const MAX_LISTED = 150;

/**
 * The block each prompt carries when the project has media: every file's name (what
 * `staticFile()` takes), kind, size and length, so the agent uses them without looking.
 * Null when there is none.
 */
export function mediaContext(manifest: MediaManifest): string | null {
  if (manifest.media.length === 0) return null;
  const sorted = [...manifest.media].sort((a, b) => a.name.localeCompare(b.name, 'en'));
  // The prompt stays well under the sandbox message's limit, however many files there are.
  const lines = sorted.slice(0, MAX_LISTED).map(describeAsset);
  if (sorted.length > MAX_LISTED) lines.push(`- …and ${sorted.length - MAX_LISTED} more (list public/ to see them all)`);
  return `<project-media>\nThe project's media, in public/ (use with staticFile('<name>')):\n${lines.join('\n')}\n</project-media>`;
}

import type { PreviewSequence } from '@cutroom/protocol';

/** An audio file's loudness over its whole length, as the preview page worked it out. */
export type Waveform = { peaks: number[]; durationInSeconds: number };

/** The part of a waveform a row plays (from `mediaFrom`, for its length at its rate), as bar heights. */
export function rowPeaks(waveform: Waveform, row: Pick<PreviewSequence, 'durationInFrames' | 'mediaFrom' | 'playbackRate'>, fps: number): number[] {
  if (!fps || waveform.peaks.length === 0 || waveform.durationInSeconds <= 0) return [];
  const startSeconds = (row.mediaFrom ?? 0) / fps;
  const seconds = (row.durationInFrames * (row.playbackRate ?? 1)) / fps;
  const perPeak = waveform.durationInSeconds / waveform.peaks.length;
  const first = Math.max(0, Math.floor(startSeconds / perPeak));
  const last = Math.min(waveform.peaks.length, Math.ceil((startSeconds + seconds) / perPeak));
  return waveform.peaks.slice(first, Math.max(first, last));
}

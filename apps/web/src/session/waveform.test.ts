import { describe, expect, it } from 'vitest';
import { rowPeaks } from './waveform';

describe('rowPeaks', () => {
  const waveform = { peaks: Array.from({ length: 10 }, (_, index) => index / 10), durationInSeconds: 10 };

  it('gives a row the part of the file it plays', () => {
    // 2 s from the start at 30 fps: the first two peaks.
    expect(rowPeaks(waveform, { durationInFrames: 60 }, 30)).toEqual([0, 0.1]);
    // From 5 s into the file, for 3 s.
    expect(rowPeaks(waveform, { durationInFrames: 90, mediaFrom: 150 }, 30)).toEqual([0.5, 0.6, 0.7]);
    // Twice as fast: 2 s of row play 4 s of file.
    expect(rowPeaks(waveform, { durationInFrames: 60, playbackRate: 2 }, 30)).toHaveLength(4);
  });

  it('never reads past the file, and gives nothing without a frame rate', () => {
    expect(rowPeaks(waveform, { durationInFrames: 3000, mediaFrom: 240 }, 30)).toEqual([0.8, 0.9]);
    expect(rowPeaks(waveform, { durationInFrames: 30, mediaFrom: 600 }, 30)).toEqual([]);
    expect(rowPeaks(waveform, { durationInFrames: 30 }, 0)).toEqual([]);
  });
});

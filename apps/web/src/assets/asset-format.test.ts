import { describe, expect, it } from 'vitest';
import { assetDetails, durationText, percentSent, sizeText } from './asset-format';

describe('asset formatting', () => {
  it('says sizes and lengths the way people read them', () => {
    expect(sizeText(12)).toBe('12 bytes');
    expect(sizeText(340 * 1024)).toBe('340 KB');
    expect(sizeText(8.14 * 1024 * 1024)).toBe('8.1 MB');
    expect(sizeText(256 * 1024 * 1024)).toBe('256 MB');
    expect(durationText(7.4)).toBe('0:07');
    expect(durationText(65)).toBe('1:05');
    expect(durationText(3723)).toBe('1:02:03');
    expect(percentSent(50, 200)).toBe(25);
    expect(percentSent(0, 0)).toBe(0);
  });

  it('describes each kind with what matters for it', () => {
    const base = { path: 'public/x', sha256: 'a'.repeat(64), addedAt: new Date(0).toISOString(), size: 2048 };
    expect(assetDetails({ ...base, name: 'clip.mp4', kind: 'video', mime: 'video/mp4', width: 1920, height: 1080, durationSeconds: 12.2, fps: 29.97, hasAudio: false })).toBe('Video · 1920×1080 · 0:12 · 29.97 fps · no sound · 2 KB');
    expect(assetDetails({ ...base, name: 'Brand.ttf', kind: 'font', mime: 'font/ttf', fontFamily: 'Inter' })).toBe('Font · Inter · 2 KB');
    expect(assetDetails({ ...base, name: 'voice.mp3', kind: 'audio', mime: 'audio/mpeg', durationSeconds: 63 })).toBe('Audio · 1:03 · 2 KB');
  });
});

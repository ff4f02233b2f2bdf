import { loadFont } from '@remotion/fonts';
import { useAudioData, visualizeAudio } from '@remotion/media-utils';
import { AbsoluteFill, Audio, cancelRender, staticFile, useCurrentFrame, useVideoConfig } from 'remotion';

// The brand's font from public/ (loadFont holds the render until it is there); a font
// that cannot be loaded stops the render rather than falling back silently.
loadFont({ family: 'BrandMono', url: staticFile('fonts/brand-mono.ttf'), weight: '700' }).catch((error: unknown) => cancelRender(error));

const tone = staticFile('audio/tone.wav');

// A level meter of the project's own audio (which plays in the video too).
export const Meter: React.FC = () => {
  const frame = useCurrentFrame();
  const { fps } = useVideoConfig();
  const audioData = useAudioData(tone);
  const bars = audioData ? visualizeAudio({ fps, frame, audioData, numberOfSamples: 16 }) : [];
  return (
    <AbsoluteFill style={{ backgroundColor: '#0b1020', alignItems: 'center', justifyContent: 'center', gap: 24 }}>
      <Audio src={tone} />
      <h1 style={{ fontFamily: 'BrandMono', fontWeight: 700, fontSize: 48, color: '#facc15', margin: 0 }}>LEVEL {String(frame).padStart(2, '0')}</h1>
      <div style={{ display: 'flex', alignItems: 'flex-end', gap: 6, height: 160 }}>
        {bars.map((value, index) => (
          <div key={index} style={{ width: 18, height: Math.min(160, Math.max(2, value * 600)), backgroundColor: '#22d3ee' }} />
        ))}
      </div>
    </AbsoluteFill>
  );
};

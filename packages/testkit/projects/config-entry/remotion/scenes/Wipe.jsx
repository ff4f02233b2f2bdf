import { AbsoluteFill, Sequence, interpolate, useCurrentFrame, useVideoConfig } from 'remotion';

const Bar = () => {
  const frame = useCurrentFrame();
  const { width, durationInFrames } = useVideoConfig();
  const x = interpolate(frame, [0, durationInFrames], [0, width]);
  return <div style={{ position: 'absolute', top: 0, bottom: 0, left: 0, width: x, background: '#a855f7' }} />;
};

export const Wipe = ({ label }) => (
  <AbsoluteFill style={{ backgroundColor: '#111' }}>
    <Sequence name="Bar">
      <Bar />
    </Sequence>
    <Sequence name="Label" from={5}>
      <AbsoluteFill style={{ color: '#fff', fontFamily: 'sans-serif', fontSize: 40, alignItems: 'center', justifyContent: 'center' }}>{label}</AbsoluteFill>
    </Sequence>
  </AbsoluteFill>
);

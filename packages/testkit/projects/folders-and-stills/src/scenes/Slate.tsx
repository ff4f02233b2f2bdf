import { AbsoluteFill, Img, Sequence, staticFile } from 'remotion';

export const Slate: React.FC = () => (
  <AbsoluteFill style={{ backgroundColor: '#1e293b', alignItems: 'center', justifyContent: 'center' }}>
    <Sequence name="Logo" durationInFrames={40}>
      <AbsoluteFill style={{ alignItems: 'center', justifyContent: 'center' }}>
        <Img src={staticFile('logo.svg')} style={{ width: 160, height: 160 }} />
      </AbsoluteFill>
    </Sequence>
    <Sequence name="Caption" from={20}>
      <AbsoluteFill style={{ alignItems: 'center', justifyContent: 'flex-end', color: '#e2e8f0', fontFamily: 'sans-serif', fontSize: 32, paddingBottom: 40 }}>
        Slate
      </AbsoluteFill>
    </Sequence>
  </AbsoluteFill>
);

import { AbsoluteFill } from 'remotion';

export const Poster: React.FC = () => (
  <AbsoluteFill style={{ background: 'linear-gradient(#f97316, #7c2d12)', alignItems: 'center', justifyContent: 'center' }}>
    <h1 style={{ color: '#fff', fontFamily: 'sans-serif', fontSize: 64 }}>Poster</h1>
  </AbsoluteFill>
);

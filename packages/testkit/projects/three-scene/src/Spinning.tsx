import { ThreeCanvas } from '@remotion/three';
import { AbsoluteFill, useCurrentFrame, useVideoConfig } from 'remotion';

// A lit cube that turns with the frame (WebGL through @react-three/fiber).
export const Spinning: React.FC = () => {
  const frame = useCurrentFrame();
  const { width, height } = useVideoConfig();
  return (
    <AbsoluteFill style={{ backgroundColor: '#111827' }}>
      <ThreeCanvas width={width} height={height} camera={{ fov: 50, position: [0, 0, 5] }}>
        <ambientLight intensity={0.8} />
        <directionalLight position={[2, 3, 4]} intensity={2} />
        <mesh rotation={[frame * 0.05, frame * 0.08, 0]}>
          <boxGeometry args={[1.8, 1.8, 1.8]} />
          <meshStandardMaterial color="#f97316" />
        </mesh>
      </ThreeCanvas>
    </AbsoluteFill>
  );
};

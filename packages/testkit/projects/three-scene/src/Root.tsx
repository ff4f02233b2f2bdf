import { Composition } from 'remotion';
import { Spinning } from './Spinning';

export const RemotionRoot: React.FC = () => (
  <Composition id="Spinning" component={Spinning} durationInFrames={30} fps={30} width={640} height={360} />
);

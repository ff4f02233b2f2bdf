import './index.css';
import { Composition } from 'remotion';
import { Poster } from './Poster';

export const RemotionRoot: React.FC = () => (
  <Composition id="Poster" component={Poster} durationInFrames={30} fps={30} width={640} height={360} defaultProps={{ title: 'Styled by Tailwind 3' }} />
);

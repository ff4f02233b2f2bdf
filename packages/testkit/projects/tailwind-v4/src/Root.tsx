import './index.css';
import { Composition } from 'remotion';
import { Card } from './Card';

export const RemotionRoot: React.FC = () => (
  <Composition id="Card" component={Card} durationInFrames={30} fps={30} width={640} height={360} defaultProps={{ title: 'Styled by Tailwind' }} />
);

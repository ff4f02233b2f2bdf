import { Composition } from 'remotion';
import { Meter } from './Meter';

export const RemotionRoot: React.FC = () => <Composition id="Meter" component={Meter} durationInFrames={60} fps={30} width={640} height={360} />;

import { Composition } from 'remotion';
import { Slides } from './Slides';

export const Root: React.FC = () => (
  <>
    <Composition id="Slides" component={Slides} durationInFrames={50} fps={25} width={640} height={360} />
  </>
);

import { Composition } from 'remotion';
import { Wipe } from './scenes/Wipe.jsx';

export const Videos = () => (
  <>
    <Composition id="wipe-wide" component={Wipe} durationInFrames={45} fps={15} width={800} height={200} defaultProps={{ label: 'wide' }} />
    <Composition id="wipe-square" component={Wipe} durationInFrames={30} fps={15} width={300} height={300} defaultProps={{ label: 'square' }} />
  </>
);

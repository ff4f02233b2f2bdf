import { Composition } from 'remotion';
import { TitleScene } from './scenes/TitleScene';

/** Every composition of the video: the preview can play each, and exports pick one. */
export const RemotionRoot: React.FC = () => (
  <>
    <Composition id="TitleScene" component={TitleScene} durationInFrames={150} fps={30} width={1280} height={720} />
  </>
);

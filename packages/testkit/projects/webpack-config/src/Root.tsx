import { AbsoluteFill, Composition } from 'remotion';
// Resolved by remotion.config.ts's webpack override.
import { brandColor } from '@brand/colors';

const Brand: React.FC = () => <AbsoluteFill style={{ backgroundColor: brandColor }} />;

export const Root: React.FC = () => <Composition id="Brand" component={Brand} durationInFrames={10} fps={10} width={320} height={180} />;

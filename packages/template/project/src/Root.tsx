import { Composition } from 'remotion';
import { compositions } from './compositions';

export const RemotionRoot: React.FC = () => (
  <>
    {compositions.map((composition) => (
      <Composition
        key={composition.id}
        id={composition.id}
        component={composition.component}
        durationInFrames={composition.durationInFrames}
        fps={composition.fps}
        width={composition.width}
        height={composition.height}
        defaultProps={composition.defaultProps}
      />
    ))}
  </>
);

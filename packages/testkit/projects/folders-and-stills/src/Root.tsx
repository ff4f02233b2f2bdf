import { Composition, Folder, Still, type CalculateMetadataFunction } from 'remotion';
import { Countdown, countdownSchema, type CountdownProps } from './scenes/Countdown';
import { Poster } from './scenes/Poster';
import { Slate } from './scenes/Slate';

// The duration follows the props, as Remotion documents for calculateMetadata.
const countdownMetadata: CalculateMetadataFunction<CountdownProps> = ({ props }) => ({
  durationInFrames: props.seconds * 30,
  props: { ...props, title: props.title.toUpperCase() },
});

export const Root: React.FC = () => (
  <>
    <Folder name="Intro">
      <Composition id="Slate" component={Slate} durationInFrames={60} fps={30} width={640} height={360} />
      <Folder name="Variants">
        <Composition
          id="Countdown"
          component={Countdown}
          schema={countdownSchema}
          defaultProps={{ seconds: 3, title: 'Lift off', color: '#22c55e' }}
          calculateMetadata={countdownMetadata}
          fps={30}
          width={640}
          height={360}
        />
      </Folder>
    </Folder>
    <Still id="Poster" component={Poster} width={400} height={600} />
  </>
);

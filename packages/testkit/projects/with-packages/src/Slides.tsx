import { linearTiming, TransitionSeries } from '@remotion/transitions';
import { fade } from '@remotion/transitions/fade';
import camelCase from 'lodash.camelcase';
import { AbsoluteFill } from 'remotion';

// Two packages Cutroom does not have: @remotion/transitions (ES modules, with
// @remotion/shapes and @remotion/paths under it) and lodash.camelcase (CommonJS).
const Slide: React.FC<{ text: string; color: string }> = ({ text, color }) => (
  <AbsoluteFill style={{ backgroundColor: color, alignItems: 'center', justifyContent: 'center' }}>
    <h1 style={{ fontFamily: 'sans-serif', fontSize: 56, color: 'white' }}>{text}</h1>
  </AbsoluteFill>
);

export const Slides: React.FC = () => (
  <TransitionSeries>
    <TransitionSeries.Sequence durationInFrames={30} name="First slide">
      <Slide text={camelCase('hello packages world')} color="#1d4ed8" />
    </TransitionSeries.Sequence>
    <TransitionSeries.Transition presentation={fade()} timing={linearTiming({ durationInFrames: 10 })} />
    <TransitionSeries.Sequence durationInFrames={30} name="Second slide">
      <Slide text="Second" color="#b91c1c" />
    </TransitionSeries.Sequence>
  </TransitionSeries>
);

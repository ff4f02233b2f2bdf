import { zColor } from '@remotion/zod-types';
import { AbsoluteFill, Sequence, useCurrentFrame, useVideoConfig } from 'remotion';
import { z } from 'zod';

export const countdownSchema = z.object({
  seconds: z.number().int().min(1),
  title: z.string(),
  color: zColor(),
});
export type CountdownProps = z.infer<typeof countdownSchema>;

const Number_: React.FC<{ value: number; color: string }> = ({ value, color }) => (
  <AbsoluteFill style={{ alignItems: 'center', justifyContent: 'center', color, fontSize: 160, fontFamily: 'sans-serif' }}>{value}</AbsoluteFill>
);

export const Countdown: React.FC<CountdownProps> = ({ seconds, title, color }) => {
  const { fps } = useVideoConfig();
  const frame = useCurrentFrame();
  return (
    <AbsoluteFill style={{ backgroundColor: '#0b1020' }}>
      {Array.from({ length: seconds }, (_, index) => (
        <Sequence key={index} name={`Second ${seconds - index}`} from={index * fps} durationInFrames={fps}>
          <Number_ value={seconds - index} color={color} />
        </Sequence>
      ))}
      <AbsoluteFill style={{ color: '#fff', fontFamily: 'sans-serif', fontSize: 28, padding: 24 }}>
        {title} · {frame}
      </AbsoluteFill>
    </AbsoluteFill>
  );
};

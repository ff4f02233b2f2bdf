import { AbsoluteFill, Sequence, interpolate, spring, useCurrentFrame, useVideoConfig } from 'remotion';

type TitleSceneProps = {
  title: string;
  subtitle: string;
  background: string;
  accent: string;
};

const Title: React.FC<{ text: string }> = ({ text }) => {
  const frame = useCurrentFrame();
  const { fps } = useVideoConfig();
  const rise = spring({ frame, fps, config: { damping: 200 } });
  return (
    <AbsoluteFill style={{ justifyContent: 'center', alignItems: 'center' }}>
      <h1
        style={{
          margin: 0,
          marginTop: -80,
          color: '#FFFFFF',
          fontFamily: 'Inter, "Helvetica Neue", Arial, sans-serif',
          fontSize: 88,
          fontWeight: 800,
          letterSpacing: -2,
          opacity: rise,
          transform: `translateY(${interpolate(rise, [0, 1], [40, 0])}px)`,
        }}
      >
        {text}
      </h1>
    </AbsoluteFill>
  );
};

const AccentBar: React.FC<{ color: string }> = ({ color }) => {
  const frame = useCurrentFrame();
  const width = interpolate(frame, [0, 20], [0, 480], { extrapolateRight: 'clamp' });
  return (
    <AbsoluteFill style={{ justifyContent: 'center', alignItems: 'center' }}>
      <div style={{ width, height: 16, marginTop: 60, borderRadius: 8, backgroundColor: color }} />
    </AbsoluteFill>
  );
};

const Subtitle: React.FC<{ text: string }> = ({ text }) => {
  const frame = useCurrentFrame();
  const opacity = interpolate(frame, [0, 15], [0, 1], { extrapolateRight: 'clamp' });
  return (
    <AbsoluteFill style={{ justifyContent: 'center', alignItems: 'center' }}>
      <p
        style={{
          margin: 0,
          marginTop: 170,
          color: '#9AA4C7',
          fontFamily: 'Inter, "Helvetica Neue", Arial, sans-serif',
          fontSize: 40,
          opacity,
        }}
      >
        {text}
      </p>
    </AbsoluteFill>
  );
};

/**
 * Opening title: the title rises in, an accent bar draws under it, then the subtitle.
 * Scene files export only components (defaults included), so edits hot-reload in place.
 */
export const TitleScene: React.FC<Partial<TitleSceneProps>> = ({
  title = 'Your video starts here',
  subtitle = 'Describe what you want in the chat',
  background = '#0B1021',
  accent = '#FF5A36',
}) => (
  <AbsoluteFill style={{ backgroundColor: background }}>
    <Sequence name="Title" durationInFrames={150}>
      <Title text={title} />
    </Sequence>
    <Sequence name="Accent bar" from={10} durationInFrames={140}>
      <AccentBar color={accent} />
    </Sequence>
    <Sequence name="Subtitle" from={30} durationInFrames={120}>
      <Subtitle text={subtitle} />
    </Sequence>
  </AbsoluteFill>
);

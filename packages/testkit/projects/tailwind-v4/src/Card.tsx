import { AbsoluteFill, interpolate, useCurrentFrame } from 'remotion';

// Styled by Tailwind classes only: a utility (bg-emerald-600), a colour from the
// project's @theme (bg-brand) and an arbitrary font size.
export const Card: React.FC<{ title: string }> = ({ title }) => {
  const frame = useCurrentFrame();
  return (
    <AbsoluteFill className="bg-emerald-600 items-center justify-center">
      <div data-testid="card" className="bg-brand rounded-3xl px-10 py-6" style={{ opacity: interpolate(frame, [0, 20], [0.2, 1], { extrapolateRight: 'clamp' }) }}>
        <h1 className="text-white font-bold text-[44px] font-sans">{title}</h1>
      </div>
    </AbsoluteFill>
  );
};

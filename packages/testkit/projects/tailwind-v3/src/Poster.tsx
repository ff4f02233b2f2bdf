import { AbsoluteFill, interpolate, useCurrentFrame } from 'remotion';

// Styled by Tailwind v3 classes only: a colour from tailwind.config.js (bg-brand), a
// component class made with @apply (badge), a utility and an arbitrary font size.
export const Poster: React.FC<{ title: string }> = ({ title }) => {
  const frame = useCurrentFrame();
  return (
    <AbsoluteFill className="bg-brand items-center justify-center">
      <div data-testid="badge" className="badge bg-slate-900" style={{ opacity: interpolate(frame, [0, 20], [0.2, 1], { extrapolateRight: 'clamp' }) }}>
        <h1 className="text-white font-bold text-[44px] font-sans">{title}</h1>
      </div>
    </AbsoluteFill>
  );
};

import { Player, type PlayerRef } from '@remotion/player';
import { useEffect, useRef } from 'react';
import { createRoot } from 'react-dom/client';
// `@project` is the working copy's `src/` (see vite.config.ts).
import { compositions } from '@project/compositions';

/**
 * The preview page: plays the project's first composition in the Remotion Player.
 * It runs in a sandboxed iframe on the preview origin, so it only ever posts
 * non-secret messages to its parent (with target '*', the only one that reaches an
 * opaque-origin parent check).
 */
function reportError(error: Error) {
  window.parent.postMessage(
    { type: 'remotion:error', message: error.message, stack: error.stack ?? null },
    '*',
  );
}

const PreviewPlayer: React.FC = () => {
  const playerRef = useRef<PlayerRef>(null);
  const composition = compositions[0];

  useEffect(() => {
    const player = playerRef.current;
    if (!player) return;
    const onError = (event: { detail: { error: Error } }) => reportError(event.detail.error);
    player.addEventListener('error', onError);
    return () => player.removeEventListener('error', onError);
  }, []);

  if (!composition) {
    return <p style={{ color: '#fff', fontFamily: 'sans-serif' }}>This project has no composition.</p>;
  }
  return (
    <Player
      ref={playerRef}
      component={composition.component}
      inputProps={composition.defaultProps}
      durationInFrames={composition.durationInFrames}
      fps={composition.fps}
      compositionWidth={composition.width}
      compositionHeight={composition.height}
      style={{ width: '100%', height: '100%' }}
      controls
      loop
      acknowledgeRemotionLicense
    />
  );
};

const root = document.getElementById('root');
if (root) createRoot(root).render(<PreviewPlayer />);

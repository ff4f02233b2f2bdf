import type { ComponentType } from 'react';
import { TitleScene } from './scenes/TitleScene';

export type CompositionEntry = {
  id: string;
  // Remotion passes `defaultProps` to the component; each entry pairs them.
  component: ComponentType<Record<string, unknown>>;
  durationInFrames: number;
  fps: number;
  width: number;
  height: number;
  defaultProps: Record<string, unknown>;
};

/** Every composition of the video. The first one is what the preview plays. */
export const compositions: CompositionEntry[] = [
  {
    id: 'TitleScene',
    component: TitleScene as ComponentType<Record<string, unknown>>,
    durationInFrames: 150,
    fps: 30,
    width: 1280,
    height: 720,
    defaultProps: {},
  },
];

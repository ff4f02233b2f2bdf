import { z } from 'zod';

/**
 * postMessage between the preview iframe (sandboxed, on the preview origin) and the
 * web app. The iframe posts with target '*' (its parent's origin is unknown to it and
 * its own is opaque), so nothing secret ever goes this way; the web app accepts a
 * message only when `event.source` is the iframe's window, and parses it.
 */

export const PreviewSequence = z.object({
  id: z.string().max(200),
  name: z.string().max(200),
  /** Absolute first frame in the composition. */
  from: z.number().int(),
  durationInFrames: z.number().int().nonnegative(),
  /** Nesting depth: 0 for a top-level sequence. */
  depth: z.number().int().nonnegative(),
  /** What it plays: a plain sequence, or a media element (`<Video>`/`<OffthreadVideo>`, `<Audio>`, `<Img>`). */
  kind: z.enum(['sequence', 'video', 'audio', 'image']).optional(),
  /** A media element's source, as the page loads it. */
  src: z.string().max(2_000).optional(),
  /** Where in the media the row starts (in the composition's frames), and how fast it plays. */
  mediaFrom: z.number().nonnegative().optional(),
  playbackRate: z.number().positive().optional(),
});
export type PreviewSequence = z.infer<typeof PreviewSequence>;

/** A composition (or still) the project's Root registers, as registered (before `calculateMetadata`). */
export const PreviewCompositionSummary = z.object({
  id: z.string().max(200),
  /** Its `<Folder>` path (`Intro/Variants`), or null at the top. */
  folder: z.string().max(1_000).nullable(),
  /** A `<Still>`: one frame. */
  still: z.boolean(),
  /** Null where only `calculateMetadata` sets it. */
  width: z.number().int().positive().nullable(),
  height: z.number().int().positive().nullable(),
  fps: z.number().positive().nullable(),
  durationInFrames: z.number().int().positive().nullable(),
});
export type PreviewCompositionSummary = z.infer<typeof PreviewCompositionSummary>;

export const PreviewToApp = z.discriminatedUnion('type', [
  /** Every composition the Root registers, and the one the preview plays. */
  z.object({
    type: z.literal('remotion:compositions'),
    compositions: z.array(PreviewCompositionSummary).max(1_000),
    selected: z.string().max(200).nullable(),
  }),
  /** What of the project's configuration the preview cannot honour, in words for the user. */
  z.object({ type: z.literal('remotion:notices'), notices: z.array(z.string().max(1_000)).max(20) }),
  /** The composition that plays, its metadata as Remotion computes it (`calculateMetadata` applied). */
  z.object({
    type: z.literal('remotion:ready'),
    compositionId: z.string().max(200),
    durationInFrames: z.number().int().positive(),
    fps: z.number().positive(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
  }),
  z.object({ type: z.literal('remotion:sequences'), sequences: z.array(PreviewSequence).max(2_000) }),
  /** An audio source's loudness over its length (0–1 each), for its rows in the timeline. */
  z.object({
    type: z.literal('remotion:waveform'),
    src: z.string().max(2_000),
    durationInSeconds: z.number().positive(),
    peaks: z.array(z.number().min(0).max(1)).max(400),
  }),
  z.object({ type: z.literal('remotion:frame'), frame: z.number().int().nonnegative(), playing: z.boolean() }),
  z.object({
    type: z.literal('remotion:error'),
    message: z.string().max(10_000),
    stack: z.string().max(50_000).nullable(),
    /** React's component stack, when React caught the error while rendering. */
    componentStack: z.string().max(50_000).nullable().optional(),
    /** The project file it points at, relative to the working copy (`src/scenes/TitleScene.tsx`). */
    file: z.string().max(1_000).nullable().optional(),
  }),
]);
export type PreviewToApp = z.infer<typeof PreviewToApp>;

export const AppToPreview = z.discriminatedUnion('type', [
  z.object({ type: z.literal('player:play') }),
  z.object({ type: z.literal('player:pause') }),
  z.object({ type: z.literal('player:seek'), frame: z.number().int().nonnegative() }),
  /** Play another composition of the project (the choice is kept in the page's URL). */
  z.object({ type: z.literal('player:select'), compositionId: z.string().min(1).max(200) }),
]);
export type AppToPreview = z.infer<typeof AppToPreview>;

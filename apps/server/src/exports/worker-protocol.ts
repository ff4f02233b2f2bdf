import { z } from 'zod';
import { ExportFormat } from '@cutroom/protocol';

/**
 * The messages between the server and a render worker (render-worker.ts), over Node's
 * IPC (the local wall) or as lines of JSON on the container's stdio (the docker wall),
 * both directions parsed with these schemas: the server sends one `job`, the worker
 * answers with what happens until `done` or `failed`, then exits.
 */

/**
 * What to render: an export of a composition, a project's thumbnail (first composition, a
 * frame a third in), a frame the agent looks at, or only the list of its compositions (as Remotion computes them,
 * `calculateMetadata` applied), written to the output as JSON.
 */
export const RenderTarget = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('export'),
    compositionId: z.string().min(1),
    format: ExportFormat,
    scale: z.number().min(0.25).max(2),
    /** PNG only: the frame to render (checked against the composition's length). */
    frame: z.number().int().min(0).nullable(),
  }),
  z.strictObject({
    kind: z.literal('thumbnail'),
    scale: z.number().min(0.05).max(1),
    /** The composition its owner chose; the first when absent or gone. */
    compositionId: z.string().min(1).max(200).optional(),
  }),
  z.strictObject({ kind: z.literal('compositions') }),
  /** A frame the agent asked to see (view_frame): a JPEG, scaled so its longest side is at most `maxSide`. */
  z.strictObject({
    kind: z.literal('frame'),
    /** The first composition when absent. */
    compositionId: z.string().min(1).max(200).optional(),
    frame: z.number().int().min(0),
    maxSide: z.number().int().min(16).max(4_096),
  }),
]);

/** One composition of a version, as the compositions job writes it. */
export const CompositionInfo = z.strictObject({
  id: z.string().min(1).max(200),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  fps: z.number().positive(),
  durationInFrames: z.number().int().positive(),
});
export type CompositionInfo = z.infer<typeof CompositionInfo>;
export type RenderTarget = z.infer<typeof RenderTarget>;

export const WorkerJob = z.strictObject({
  type: z.literal('job'),
  /**
   * The job's working folder, the only one the worker may write (render-sandbox.ts): a
   * bundle being built and the output go there.
   */
  workDir: z.string().min(1),
  /**
   * The bundle: one from the cache (`DATA_DIR/cache/bundles/<tree>`, read-only to the
   * worker), or one to build from the version's files (the server checked them out into
   * `projectDir`) into `outDir`; the server puts a built bundle into the cache once the
   * worker is gone.
   */
  bundle: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('cached'), dir: z.string().min(1) }),
    z.strictObject({ kind: z.literal('build'), projectDir: z.string().min(1), outDir: z.string().min(1) }),
  ]),
  /** The file to write, inside `workDir`. */
  output: z.string().min(1),
  chromiumPath: z.string().min(1),
  /** Frames rendered in parallel. */
  concurrency: z.number().int().min(1).max(16),
  target: RenderTarget,
});
export type WorkerJob = z.infer<typeof WorkerJob>;

export const WorkerMessage = z.discriminatedUnion('type', [
  /** The bundle is ready: taken from the cache, or built now (and put there). */
  z.object({ type: z.literal('bundle'), cached: z.boolean(), ms: z.number() }),
  /** The composition was found and checked: frames are being rendered. */
  z.object({
    type: z.literal('rendering'),
    compositionId: z.string(),
    totalFrames: z.number().int().min(1),
    width: z.number().int(),
    height: z.number().int(),
    fps: z.number(),
    /** The composition's own length (a still renders one of its frames). */
    durationInFrames: z.number().int().min(1).optional(),
  }),
  z.object({ type: z.literal('progress'), progress: z.number().min(0).max(1), renderedFrames: z.number().int().min(0) }),
  z.object({ type: z.literal('done'), sizeBytes: z.number().int().min(0) }),
  /** `reason` is for people: short, first line only. */
  z.object({ type: z.literal('failed'), reason: z.string().max(1_000) }),
]);
export type WorkerMessage = z.infer<typeof WorkerMessage>;

/** The codec `renderMedia` uses for each video format (PNG is a still). */
export const videoCodecs = { mp4: 'h264', webm: 'vp8', gif: 'gif' } as const;

/** File extension and content type of each format. */
export const formatFiles: Record<ExportFormat, { extension: string; contentType: string }> = {
  mp4: { extension: 'mp4', contentType: 'video/mp4' },
  webm: { extension: 'webm', contentType: 'video/webm' },
  gif: { extension: 'gif', contentType: 'image/gif' },
  png: { extension: 'png', contentType: 'image/png' },
};

/** The list of compositions, kept in each bundle so a cached render reads no metadata twice; written last, so a bundle that has it is whole. */
export const COMPOSITIONS_FILE = 'cutroom-compositions.json';

/** The scale of a `frame` target's picture: its longest side at most `maxSide`, never enlarged. */
export const frameScale = (width: number, height: number, maxSide: number) => Math.min(1, maxSide / Math.max(width, height));

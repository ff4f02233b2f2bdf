import { z } from 'zod';
import { Text } from './text.js';

/**
 * Exports: a render of one version of a project to a file (MP4, WebM, GIF, or a PNG
 * still of one frame), queued on the server, followed by `export:progress` on /ws and
 * `GET /api/projects/:id/exports/:exportId`, downloaded by its owner.
 */

export const ExportFormat = z.enum(['mp4', 'webm', 'gif', 'png']);
export type ExportFormat = z.infer<typeof ExportFormat>;

export const ExportStatus = z.enum(['queued', 'preparing', 'rendering', 'done', 'failed', 'cancelled']);
export type ExportStatus = z.infer<typeof ExportStatus>;

/** Statuses after which an export never changes again. */
export const finishedExportStatuses: readonly ExportStatus[] = ['done', 'failed', 'cancelled'];

/** Largest number of exports one user may have waiting (`too_many_exports` beyond). */
export const MAX_QUEUED_EXPORTS_PER_USER = 20;

export const CreateExportRequest = z
  .strictObject({
    /** The composition's id in the project (`TitleScene` in a new project). */
    compositionId: Text.trim().min(1, 'Choose a composition.').max(200),
    format: ExportFormat,
    /** Output size relative to the composition's (0.25–2; default 1). */
    scale: z.number().min(0.25, 'Use a scale of at least 0.25.').max(2, 'Use a scale of at most 2.').optional(),
    /**
     * The frame of a PNG still (default 0). Must be inside the composition: checked when
     * the render starts, and an export asking for a frame past the end fails with why.
     */
    frame: z.number().int().min(0).max(1_000_000).optional(),
  })
  .refine((request) => request.frame === undefined || request.format === 'png', {
    message: 'A frame can only be chosen for a PNG still.',
    path: ['frame'],
  });
export type CreateExportRequest = z.infer<typeof CreateExportRequest>;

export const Export = z.object({
  id: z.string(),
  projectId: z.string(),
  /** The version (commit) rendered: the project's current one when the export was asked for. */
  version: z.string(),
  compositionId: z.string(),
  format: ExportFormat,
  scale: z.number(),
  /** The frame of a PNG still; null for videos. */
  frame: z.number().int().nullable(),
  status: ExportStatus,
  /** 0..1 over the whole render (frames rendered, then encoded). */
  progress: z.number().min(0).max(1),
  renderedFrames: z.number().int(),
  /** Known once the composition has been read (status `rendering`). */
  totalFrames: z.number().int().nullable(),
  /** Why a `failed` export failed, for people. */
  error: z.string().nullable(),
  sizeBytes: z.number().int().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  /** `/api/projects/:id/exports/:exportId/download` once `done`; null before. */
  downloadUrl: z.string().nullable(),
});
export type Export = z.infer<typeof Export>;

export const ExportResponse = z.object({ export: Export });
export type ExportResponse = z.infer<typeof ExportResponse>;

export const ExportListResponse = z.object({ exports: z.array(Export) });
export type ExportListResponse = z.infer<typeof ExportListResponse>;

/** `GET /api/projects/:id/compositions?version=`: a version's compositions as Remotion computes them. */
export const CompositionsQuery = z.strictObject({ version: z.string().regex(/^[0-9a-f]{40}$/, 'A version id is 40 lowercase hex characters.').optional() });
export type CompositionsQuery = z.infer<typeof CompositionsQuery>;
export const CompositionsResponse = z.object({
  /** The version they belong to. */
  version: z.string(),
  compositions: z.array(
    z.object({ id: z.string(), width: z.number().int(), height: z.number().int(), fps: z.number(), durationInFrames: z.number().int() }),
  ),
});
export type CompositionsResponse = z.infer<typeof CompositionsResponse>;

/** Path of a done export's file (binary, owner only; not in the route table). */
export const exportDownloadPath = (projectId: string, exportId: string) =>
  `/api/projects/${projectId}/exports/${exportId}/download`;

/**
 * Path of a project's thumbnail (image/png of its current version, owner only; not in
 * the route table). Pass the project's `thumbnailVersion` so a new thumbnail is a new URL.
 */
/** Names one thumbnail image: the version it shows, and the composition when one was chosen. */
export const thumbnailKey = (thumbnailVersion: string, thumbnailComposition?: string | null) =>
  thumbnailComposition ? `${thumbnailVersion}.${thumbnailComposition}` : thumbnailVersion;
export const projectThumbnailPath = (projectId: string, thumbnailVersion?: string | null, thumbnailComposition?: string | null) =>
  `/api/projects/${projectId}/thumbnail${thumbnailVersion ? `?v=${encodeURIComponent(thumbnailKey(thumbnailVersion, thumbnailComposition))}` : ''}`;

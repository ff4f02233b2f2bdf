import type { ExportFormat, ExportStatus } from '@cutroom/protocol';
import type { Database } from './database.js';

/** An export as the server keeps it: the wire's fields plus its owner and its file. */
export type ExportRecord = {
  id: string;
  ownerId: string;
  projectId: string;
  version: string;
  compositionId: string;
  format: ExportFormat;
  scale: number;
  frame: number | null;
  status: ExportStatus;
  progress: number;
  renderedFrames: number;
  totalFrames: number | null;
  error: string | null;
  /** The file, relative to the storage root, once done. */
  outputPath: string | null;
  sizeBytes: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
};

type ExportRow = {
  id: string;
  owner_id: string;
  project_id: string;
  version: string;
  composition_id: string;
  format: ExportFormat;
  scale: number | string;
  frame: number | null;
  status: ExportStatus;
  progress: number | string;
  rendered_frames: number;
  total_frames: number | null;
  error: string | null;
  output_path: string | null;
  size_bytes: number | string | bigint | null;
  created_at: Date | string;
  started_at: Date | string | null;
  finished_at: Date | string | null;
};

const iso = (value: Date | string) => new Date(value).toISOString();

const toRecord = (row: ExportRow): ExportRecord => ({
  id: row.id,
  ownerId: row.owner_id,
  projectId: row.project_id,
  version: row.version,
  compositionId: row.composition_id,
  format: row.format,
  scale: Number(row.scale),
  frame: row.frame,
  status: row.status,
  progress: Number(row.progress),
  renderedFrames: row.rendered_frames,
  totalFrames: row.total_frames,
  error: row.error,
  outputPath: row.output_path,
  sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
  createdAt: iso(row.created_at),
  startedAt: row.started_at === null ? null : iso(row.started_at),
  finishedAt: row.finished_at === null ? null : iso(row.finished_at),
});

/** What a running export may change; `started`/`finished` stamp the time now. */
export type ExportChanges = Partial<
  Pick<ExportRecord, 'status' | 'progress' | 'renderedFrames' | 'totalFrames' | 'error' | 'outputPath' | 'sizeBytes'>
> & { started?: boolean; finished?: boolean };

const columns: Record<keyof Omit<ExportChanges, 'started' | 'finished'>, string> = {
  status: 'status',
  progress: 'progress',
  renderedFrames: 'rendered_frames',
  totalFrames: 'total_frames',
  error: 'error',
  outputPath: 'output_path',
  sizeBytes: 'size_bytes',
};

const UNFINISHED = `status IN ('queued', 'preparing', 'rendering')`;

/**
 * The `exports` table. Reads by the user take the owner's id (another user's export is
 * one that does not exist); updates only ever touch an unfinished export, so a late
 * progress report can never overwrite `done`, `failed` or `cancelled`.
 */
export function createExportStore(db: Database) {
  return {
    async create(input: Pick<ExportRecord, 'id' | 'ownerId' | 'projectId' | 'version' | 'compositionId' | 'format' | 'scale' | 'frame'>) {
      const [row] = await db.query<ExportRow>(
        `INSERT INTO exports (id, owner_id, project_id, version, composition_id, format, scale, frame)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
        [input.id, input.ownerId, input.projectId, input.version, input.compositionId, input.format, input.scale, input.frame],
      );
      return toRecord(row!);
    },
    async get(ownerId: string, projectId: string, id: string) {
      const [row] = await db.query<ExportRow>('SELECT * FROM exports WHERE id = $1 AND owner_id = $2 AND project_id = $3', [
        id,
        ownerId,
        projectId,
      ]);
      return row ? toRecord(row) : null;
    },
    /** Newest first. */
    async list(ownerId: string, projectId: string, limit = 200) {
      const rows = await db.query<ExportRow>(
        'SELECT * FROM exports WHERE owner_id = $1 AND project_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3',
        [ownerId, projectId, limit],
      );
      return rows.map(toRecord);
    },
    async countQueued(ownerId: string) {
      const [row] = await db.query<{ count: number | string }>(
        `SELECT count(*) AS count FROM exports WHERE owner_id = $1 AND status = 'queued'`,
        [ownerId],
      );
      return Number(row?.count ?? 0);
    },
    /** Applies `changes` if the export is still unfinished; null when it was not (or is gone). */
    async update(id: string, changes: ExportChanges) {
      const sets: string[] = [];
      const params: unknown[] = [id];
      for (const [key, column] of Object.entries(columns) as [keyof typeof columns, string][]) {
        if (changes[key] === undefined) continue;
        params.push(changes[key]);
        sets.push(`${column} = $${params.length}`);
      }
      if (changes.started) sets.push('started_at = now()');
      if (changes.finished) sets.push('finished_at = now()');
      if (sets.length === 0) return null;
      const [row] = await db.query<ExportRow>(
        `UPDATE exports SET ${sets.join(', ')} WHERE id = $1 AND ${UNFINISHED} RETURNING *`,
        params,
      );
      return row ? toRecord(row) : null;
    },
    /** Projects whose thumbnail does not show their current version and chosen composition (most recently changed first). */
    async staleThumbnails(limit = 500) {
      return db.query<{ id: string; owner_id: string; current_version: string }>(
        `SELECT id, owner_id, current_version FROM projects
         WHERE current_version IS NOT NULL
           AND (thumbnail_version IS DISTINCT FROM current_version OR thumbnail_composition IS DISTINCT FROM composition_id)
         ORDER BY updated_at DESC LIMIT $1`,
        [limit],
      );
    },
    /** At start: exports a crash left unfinished are failed with `reason`; returns their ids. */
    async failUnfinished(reason: string) {
      const rows = await db.query<{ id: string }>(
        `UPDATE exports SET status = 'failed', error = $1, finished_at = now() WHERE ${UNFINISHED} RETURNING id`,
        [reason],
      );
      return rows.map((row) => row.id);
    },
  };
}

export type ExportStore = ReturnType<typeof createExportStore>;

import { z } from 'zod';

/** What a project's media file is: the kinds a user can upload. */
export const MediaKind = z.enum(['image', 'video', 'audio', 'font']);
export type MediaKind = z.infer<typeof MediaKind>;

/**
 * A media file's name in the project: one segment in `public/`, as the user's file was
 * called. Letters and digits of any script, spaces and a few marks; never a leading dot, a
 * slash, `..`, NUL or another control character.
 */
export const MEDIA_NAME = /^[\p{L}\p{N}][\p{L}\p{N} ._()@+,&'!-]{0,119}$/u;
export const MediaName = z
  .string()
  .regex(MEDIA_NAME, 'A media name is letters, digits, spaces and . _ ( ) @ + , & \' ! -, starting with a letter or digit, at most 120 characters.')
  .refine((name) => !name.includes('..'), 'A media name may not hold "..".')
  .refine((name) => !/[ .]$/.test(name), 'A media name may not end with a space or a dot.');

/** The folder of the project that media files sit in (what `staticFile()` reads). */
export const MEDIA_FOLDER = 'public';
/** The file of each version that pins its media (content-addressed; never the bytes). */
export const MEDIA_MANIFEST_PATH = '.cutroom/media.json';

/** One media file of a version: where it sits, what it is, and the bytes it holds (by hash). */
export const MediaAsset = z.strictObject({
  name: MediaName,
  /** `public/<name>`: the path in the project (what `staticFile(name)` serves). */
  path: z.string().max(200),
  kind: MediaKind,
  /** The type the bytes were found to be (never the one the browser claimed). */
  mime: z.string().max(100),
  size: z.number().int().nonnegative(),
  /** SHA-256 of the bytes, hex: where the storage keeps them. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
  /** Seconds, for video and audio (and animated images). */
  durationSeconds: z.number().nonnegative().optional(),
  fps: z.number().positive().optional(),
  videoCodec: z.string().max(50).optional(),
  audioCodec: z.string().max(50).optional(),
  /** A video with a sound track. */
  hasAudio: z.boolean().optional(),
  /** A font's family name, as the font names it. */
  fontFamily: z.string().max(200).optional(),
  addedAt: z.string().datetime(),
});
export type MediaAsset = z.infer<typeof MediaAsset>;

/** `.cutroom/media.json`: the media of one version. Written by the server only. */
export const MediaManifest = z.strictObject({
  version: z.literal(1),
  media: z.array(MediaAsset).max(1_000),
});
export type MediaManifest = z.infer<typeof MediaManifest>;

export const mediaPath = (name: string) => `${MEDIA_FOLDER}/${name}`;

/** `GET /api/projects/:id/assets` */
export type AssetListResponse = { assets: MediaAsset[]; version: string; limits: { fileBytes: number; projectBytes: number } };
/** `POST /api/projects/:id/assets` (and a finished resumable upload) */
export type AssetCreatedResponse = { asset: MediaAsset; version: string };

export const assetsPath = (projectId: string) => `/api/projects/${projectId}/assets`;
/** The tus endpoint of resumable uploads (https://tus.io/protocols/resumable-upload). */
export const assetUploadsPath = (projectId: string) => `/api/projects/${projectId}/asset-uploads`;
export const assetFilePath = (projectId: string, name: string) => `/api/projects/${projectId}/assets/${encodeURIComponent(name)}`;

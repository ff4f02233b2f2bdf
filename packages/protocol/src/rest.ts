import { z } from 'zod';
import { AgentAction, TurnStatus } from './agent.js';
import { MediaKind } from './media.js';
import { Text } from './text.js';

/** Request and response bodies of every `/api` route (see DESIGN.md, "Contracts"). */

export const Email = Text
  .trim()
  .toLowerCase()
  .min(3, 'Enter your email address.')
  .max(254, 'That email address is too long.')
  .regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'Enter a valid email address.');

export const Password = Text
  .min(8, 'Use at least 8 characters.')
  .max(200, 'Use at most 200 characters.');

export const DisplayName = Text
  .trim()
  .min(1, 'Enter your name.')
  .max(80, 'Use at most 80 characters.');

export const ProjectName = Text
  .trim()
  .min(1, 'Give the project a name.')
  .max(120, 'Use at most 120 characters.')
  .refine((value) => ![...value].some((character) => character < ' ' || character === '\u007f'), 'Use printable characters only.');

export const SignupRequest = z.strictObject({
  email: Email,
  password: Password,
  name: DisplayName,
});
export type SignupRequest = z.infer<typeof SignupRequest>;

export const LoginRequest = z.strictObject({
  email: Email,
  password: Text.min(1, 'Enter your password.').max(200),
});
export type LoginRequest = z.infer<typeof LoginRequest>;

export const User = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  createdAt: z.string(),
});
export type User = z.infer<typeof User>;

export const UserResponse = z.object({ user: User });
export type UserResponse = z.infer<typeof UserResponse>;

export const Project = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  currentVersion: z.string().nullable(),
  agentSessionId: z.string().nullable(),
  /** The version the project's thumbnail shows (`GET /api/projects/:id/thumbnail?v=…`); null until one is rendered. */
  thumbnailVersion: z.string().nullable(),
  /** The composition its owner chose to play (the preview starts on it, the thumbnail shows it); null: the Root's first. */
  compositionId: z.string().nullable(),
  /** The composition the thumbnail shows (null: the first). */
  thumbnailComposition: z.string().nullable(),
});
export type Project = z.infer<typeof Project>;

export const MessageRole = z.enum(['user', 'assistant', 'system']);
export type MessageRole = z.infer<typeof MessageRole>;

export const Message = z.object({
  id: z.string(),
  projectId: z.string(),
  role: MessageRole,
  content: z.string(),
  /** The agent's tool calls during the turn (assistant messages). */
  actions: z.array(AgentAction),
  /** How the turn ended (assistant messages; user messages are `done`). */
  status: TurnStatus,
  /** A preview error report the app sent for an automatic fix (user messages). */
  autoFix: z.boolean(),
  /** The project version the turn produced (assistant messages that changed files). */
  version: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Message = z.infer<typeof Message>;

export const CreateProjectRequest = z.strictObject({ name: ProjectName });
export type CreateProjectRequest = z.infer<typeof CreateProjectRequest>;

/** A composition's id as Remotion allows it (letters, digits, `-`, CJK), as a project names its choice. */
export const CompositionId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[a-zA-Z0-9\u4E00-\u9FFF-]+$/, 'a composition id has only letters, digits and "-"');
export const UpdateProjectRequest = z
  .strictObject({ name: ProjectName.optional(), compositionId: CompositionId.nullable().optional() })
  .refine((body) => body.name !== undefined || body.compositionId !== undefined, 'name or compositionId is required');
export type UpdateProjectRequest = z.infer<typeof UpdateProjectRequest>;

export const ProjectResponse = z.object({ project: Project });
export type ProjectResponse = z.infer<typeof ProjectResponse>;

export const ProjectListResponse = z.object({ projects: z.array(Project) });
export type ProjectListResponse = z.infer<typeof ProjectListResponse>;

export const ProjectWithMessagesResponse = z.object({
  project: Project,
  messages: z.array(Message),
});
export type ProjectWithMessagesResponse = z.infer<typeof ProjectWithMessagesResponse>;

export const MessageListResponse = z.object({ messages: z.array(Message) });
export type MessageListResponse = z.infer<typeof MessageListResponse>;

/**
 * `GET /api/health`. Anyone may ask, so an anonymous caller learns only whether the
 * server works and whether chat is configured (with the generic how-to); the store and
 * the provider's name (its host, its model) are for signed-in users only.
 */
export const HealthResponse = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string(),
  protocolVersion: z.number().int(),
  /** Signed-in callers only. */
  store: z.object({ kind: z.enum(['pglite', 'postgres']), ok: z.boolean() }).optional(),
  /** Whether chat can work: a model provider is configured (no secret in here). */
  agent: z.object({
    /** Signed-in callers only. */
    runner: z.enum(['claude-agent-sdk', 'ai-sdk']).optional(),
    configured: z.boolean(),
    /** Signed in: which provider, or exactly how to configure one; anonymous: a generic line. */
    message: z.string(),
  }),
});
export type HealthResponse = z.infer<typeof HealthResponse>;

/* History: the project's versions (git commits on `main`), their diffs, restores. */

/** A version's id: the full commit id. */
export const VersionId = Text.regex(/^[0-9a-f]{40}$/, 'A version id is 40 lowercase hex characters.');

/**
 * Path of a version's files as a zip (`GET`, owner only; a binary route, not in the route
 * table): the current version without `version`.
 */
export const projectArchivePath = (projectId: string, version?: string | null) =>
  `/api/projects/${projectId}/archive${version ? `?version=${encodeURIComponent(version)}` : ''}`;

/** Who made a version: the user (by hand), the agent (a chat turn) or a restore. */
export const VersionAuthor = z.enum(['user', 'agent', 'restore']);
export type VersionAuthor = z.infer<typeof VersionAuthor>;

export const FileChange = z.enum(['added', 'modified', 'deleted', 'renamed']);
export type FileChange = z.infer<typeof FileChange>;

/** A file a version changed; a rename also names the path it had before. */
export const VersionFile = z.object({
  path: z.string(),
  change: FileChange,
  previousPath: z.string().optional(),
});
export type VersionFile = z.infer<typeof VersionFile>;

export const Version = z.object({
  id: VersionId,
  /** null for the project's first version. */
  parentId: VersionId.nullable(),
  /** The first line of the request that made it (a restore: `Restore "<message>"`). */
  message: z.string(),
  createdAt: z.string(),
  author: VersionAuthor,
  /** For a restore: the version whose files it brought back. */
  restoredFrom: VersionId.optional(),
  /** The files it changed against its parent. */
  files: z.array(VersionFile),
});
export type Version = z.infer<typeof Version>;

/** Largest page of versions. */
export const MAX_VERSION_PAGE = 100;

export const VersionListQuery = z.strictObject({
  /** A version id: list the versions older than it (the previous page's `nextBefore`). */
  before: VersionId.optional(),
  limit: z.coerce.number().int().min(1).max(MAX_VERSION_PAGE).optional(),
});
export type VersionListQuery = z.infer<typeof VersionListQuery>;

export const VersionListResponse = z.object({
  /** Newest first. */
  versions: z.array(Version),
  /** Pass as `before` for the next (older) page; null when this was the last. */
  nextBefore: VersionId.nullable(),
  /** The project's latest version (the head of `main`). */
  currentVersion: VersionId,
});
export type VersionListResponse = z.infer<typeof VersionListResponse>;

export const VersionDiffQuery = z.strictObject({
  /** Compare with this version instead of the version's parent. */
  against: VersionId.optional(),
});
export type VersionDiffQuery = z.infer<typeof VersionDiffQuery>;

export const FileDiff = VersionFile.extend({
  /** Git's unified patch of the file, from its `diff --git` line; empty once the answer's cap is reached. */
  patch: z.string(),
  binary: z.boolean(),
  /** This file's patch was cut or left out (the answer's cap). */
  truncated: z.boolean(),
  /** A media file of the project (kept by Cutroom, not in git): its kind and size, in place of a patch. */
  media: z.object({ kind: MediaKind, size: z.number().int().nonnegative() }).optional(),
});
export type FileDiff = z.infer<typeof FileDiff>;

export const VersionDiffResponse = z.object({
  version: VersionId,
  /** What it is compared with: the `against` asked for, else the parent; null for a first version (compared with nothing). */
  against: VersionId.nullable(),
  files: z.array(FileDiff),
  /** Patches were cut to keep the answer near 200 KB. */
  truncated: z.boolean(),
});
export type VersionDiffResponse = z.infer<typeof VersionDiffResponse>;

export const RestoreVersionResponse = z.object({
  /** The new version (author `restore`); the current one when nothing had to change. */
  version: Version,
  project: Project,
  /** false when the project already had that version's files (nothing was made). */
  restored: z.boolean(),
});
export type RestoreVersionResponse = z.infer<typeof RestoreVersionResponse>;

/* Import: a project made from a Remotion project the user already has. */

/** `POST /api/projects/import` (a binary route, not in the route table: it also takes `multipart/form-data`). */
export const projectImportPath = '/api/projects/import';

/** The largest archive an import takes (the upload as sent, compressed); the browser checks it before sending. */
export const MAX_IMPORT_ARCHIVE_BYTES = 100 * 1024 * 1024;

/** The upload's form fields: `file` (a `.zip` or `.tar.gz`) and an optional `name`. */
export const ImportArchiveFields = z.strictObject({ name: ProjectName.optional() });
export type ImportArchiveFields = z.infer<typeof ImportArchiveFields>;

/**
 * The JSON body: a git repository by its `https://` URL (its default branch, files only,
 * no history). The URL is checked by the server (`import_git_url_refused`).
 */
export const ImportGitRequest = z.strictObject({
  name: ProjectName.optional(),
  gitUrl: Text.trim().min(1, 'Paste the repository’s https:// URL.').max(2_000, 'That URL is too long.'),
});
export type ImportGitRequest = z.infer<typeof ImportGitRequest>;

/** Answer of an import: `201 {project}`; its first version is the imported tree. */
export const ImportProjectResponse = ProjectResponse;
export type ImportProjectResponse = ProjectResponse;

import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import fastifyMultipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ImportArchiveFields, ImportGitRequest, ProjectName, type ImportProjectResponse, type User, projectImportPath } from '@cutroom/protocol';
import { AppError } from '../errors.js';
import { zodIssues } from '../http/error-handler.js';
import { multipartError } from '../http/multipart-errors.js';
import { type GitImportOptions, checkGitUrl, readGitRepository } from './git-import.js';
import { DEFAULT_IMPORT_LIMITS, type ImportLimits, findProjectRoot, readArchiveFile, withoutControlCharacters } from './project-import.js';
import type { ProjectService } from './project-service.js';

/** Imports one user may run at once, and the whole server (each costs disk, CPU and a git run). */
export const MAX_IMPORTS_PER_USER = 2;
export const MAX_IMPORTS = 8;

/** A project name from a file name or a repository's (`My Film.tar.gz` → `My Film`), or a plain default. */
export function importedName(source: string | undefined): string {
  const base = withoutControlCharacters(source ?? '')
    .replace(/^.*[\\/]/, '')
    .replace(/\.(zip|tar\.gz|tgz|tar)$/i, '')
    .trim()
    .slice(0, 120);
  const parsed = ProjectName.safeParse(base);
  return parsed.success ? parsed.data : 'Imported project';
}

const invalid = (path: string, message: string) => new AppError('validation_failed', 'Some fields are not valid.', 400, [{ path, message }]);

type Upload = { file: string; filename: string; name?: string };

/**
 * The form of an archive upload: one `file` part written to `target` as it streams (at
 * most `limits.archiveBytes`; the form's other parts are small and few), and an optional
 * `name`. The whole body is read before any problem is answered, so the browser that
 * sent it gets the answer instead of a broken connection.
 */
async function readUpload(request: FastifyRequest, target: string, limits: ImportLimits): Promise<Upload> {
  let problem: AppError | null = null;
  const note = (error: AppError) => {
    problem ??= error;
  };
  let upload: { file: string; filename: string } | null = null;
  const fields: Record<string, string> = {};
  try {
    const parts = request.parts({
      limits: { fileSize: limits.archiveBytes, files: 1, fields: 4, parts: 6, fieldSize: 4_096, fieldNameSize: 100, headerPairs: 20 },
    });
    for await (const part of parts) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file' || upload) {
          note(invalid(part.fieldname, 'Send one archive, in the field "file".'));
          part.file.resume();
          continue;
        }
        await pipeline(part.file, createWriteStream(target, { flags: 'wx', mode: 0o600 }));
        if (part.file.truncated) {
          note(
            new AppError(
              'payload_too_large',
              `The archive is larger than ${Math.round(limits.archiveBytes / (1024 * 1024))} MiB, the most an upload may be. Leave out node_modules, build output and large media, or import from a git repository.`,
              413,
            ),
          );
          continue;
        }
        upload = { file: target, filename: part.filename };
      } else if (part.fieldname === 'name') {
        fields.name = String(part.value);
      } else {
        note(invalid(part.fieldname, 'Only the fields "file" and "name" are taken.'));
      }
    }
  } catch (error) {
    multipartError(error, request, () => invalid('file', 'Send one archive, in the field "file", and at most a name.'));
  }
  if (problem) throw problem;
  const parsed = ImportArchiveFields.safeParse(fields.name === undefined || fields.name.trim() === '' ? {} : fields);
  if (!parsed.success) throw new AppError('validation_failed', 'Some fields are not valid.', 400, zodIssues(parsed.error));
  if (!upload) throw invalid('file', 'Choose a .zip or .tar.gz of a Remotion project to import.');
  return { ...(upload as { file: string; filename: string }), name: parsed.data.name };
}

/**
 * `POST /api/projects/import`: a new project from a Remotion project the user has, as
 * `multipart/form-data` (`file`: a `.zip` or `.tar.gz`; optional `name`) or as JSON
 * `{name?, gitUrl}`. `201 {project}`; its first version is the imported tree (from
 * inside the archive's one top-level folder when everything sits under one). Everything
 * happens in a folder of its own under `<dataDir>/imports`, removed whatever the outcome:
 * a refused import leaves no project, no repo and no file behind. Not in the route table:
 * its body is not JSON only.
 */
export async function registerImportRoute(
  app: FastifyInstance,
  deps: {
    projects: Pick<ProjectService, 'checkRoom' | 'createFromFiles'>;
    currentUser: (request: FastifyRequest) => Promise<User | null>;
    dataDir: string;
    limits?: Partial<ImportLimits>;
    git?: GitImportOptions;
  },
) {
  const limits: ImportLimits = { ...DEFAULT_IMPORT_LIMITS, ...deps.limits };
  const importsDir = path.join(deps.dataDir, 'imports');
  // What a crash left in the middle of an import.
  await rm(importsDir, { recursive: true, force: true });
  await mkdir(importsDir, { recursive: true, mode: 0o700 });
  if (deps.git?.allowLoopback) app.log.warn('IMPORT_GIT_ALLOW_LOOPBACK is set: git imports may clone over http from this machine (a setting for tests only)');

  const running = new Map<string, number>();
  let total = 0;

  await app.register(async (scope) => {
    // Multipart parsing for this route only; fields and files capped per request (readUpload).
    // An upload over the size limit is read to its end (and refused after): `truncated`, not a throw.
    await scope.register(fastifyMultipart, { limits: { fileSize: limits.archiveBytes, files: 1, fields: 4, parts: 6 }, throwFileSizeLimit: false });

    scope.post(projectImportPath, async (request, reply): Promise<ImportProjectResponse> => {
      const user = await deps.currentUser(request);
      if (!user) throw new AppError('unauthenticated', 'Sign in to continue.', 401);
      // Before the upload is read: no one sends 100 MiB to learn there is no room.
      await deps.projects.checkRoom(user.id);
      const mine = running.get(user.id) ?? 0;
      if (mine >= MAX_IMPORTS_PER_USER || total >= MAX_IMPORTS) {
        throw new AppError('rate_limited', mine >= MAX_IMPORTS_PER_USER ? 'Your other imports are still running; try again when they are done.' : 'The server is busy importing; try again in a minute.', 429);
      }
      running.set(user.id, mine + 1);
      total += 1;
      const work = path.join(importsDir, randomUUID());
      try {
        await mkdir(work, { mode: 0o700 });
        const files = path.join(work, 'files');
        await mkdir(files, { mode: 0o700 });
        let name: string;
        let message: string;
        const started = Date.now();
        if (request.isMultipart()) {
          const upload = await readUpload(request, path.join(work, 'upload'), limits);
          const read = await readArchiveFile(upload.file, files, limits);
          name = upload.name ?? importedName(upload.filename);
          message = `Import ${withoutControlCharacters(upload.filename).replace(/^.*[\\/]/, '').slice(0, 200) || 'an archive'}`;
          request.log.info({ userId: user.id, format: read.format, entries: read.entries, kept: read.kept, bytes: read.bytes, ms: Date.now() - started }, 'import archive read');
        } else {
          if (!/^application\/json\s*(;|$)/i.test(request.headers['content-type'] ?? '')) {
            throw new AppError('unsupported_media_type', 'Send an archive as multipart/form-data (field "file"), or a repository as JSON {gitUrl}.', 415);
          }
          const body = ImportGitRequest.safeParse(request.body);
          if (!body.success) throw new AppError('validation_failed', 'Some fields are not valid.', 400, zodIssues(body.error));
          const checked = await checkGitUrl(body.data.gitUrl, deps.git);
          const read = await readGitRepository(checked, work, files, limits);
          name = body.data.name ?? importedName(checked.name);
          message = `Import ${checked.url}`;
          request.log.info({ userId: user.id, entries: read.entries, kept: read.kept, bytes: read.bytes, ms: Date.now() - started }, 'import repository read');
        }
        const root = await findProjectRoot(files);
        const project = await deps.projects.createFromFiles(user.id, name, root, `${message}\n\nCutroom-Author: user\n`);
        reply.status(201);
        return { project };
      } finally {
        await rm(work, { recursive: true, force: true });
        total -= 1;
        const left = (running.get(user.id) ?? 1) - 1;
        if (left > 0) running.set(user.id, left);
        else running.delete(user.id);
      }
    });
  });
}

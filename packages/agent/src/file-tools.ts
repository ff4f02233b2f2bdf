import vm from 'node:vm';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tool } from 'ai';
import { z } from 'zod';
import { PathRefused, confinePath } from './confine.js';
import { fileDiff } from './diff.js';
import { type WriteBudget, createWriteBudget, utf8Bytes } from './write-limits.js';

/**
 * The file tools of the AI SDK runner: the only way its model touches the working copy.
 * Every path goes through `confinePath`, so the model can look at and change the project's
 * files (whatever its layout: `src/`, `remotion/`, `public/`, `package.json`,
 * `remotion.config.ts`) and nothing else (not `.git`, not `node_modules`, not a symlink
 * that leads out). A refused or failed call throws a `FileToolError` or
 * `PathRefused`; the AI SDK hands its message back to the model as the tool's result
 * and the loop goes on.
 */

/** Where list_files and search_files look when given no folder: the whole working copy. */
export const FILE_TOOL_ROOTS = ['.'];

/** Folders of the working copy that are not the project's files (besides `.git`). */
const EXCLUDED = ['node_modules'];

/** A tool call that cannot be done, with the reason in words the model can act on. */
export class FileToolError extends Error {
  override name = 'FileToolError';
}

export type FileToolLimits = {
  /** Largest file read_file returns and search_files looks into, in bytes. */
  maxReadBytes: number;
  /** Most entries list_files returns. */
  maxListEntries: number;
  /** Most matching lines search_files returns. */
  maxSearchResults: number;
};

export const DEFAULT_FILE_TOOL_LIMITS: FileToolLimits = {
  maxReadBytes: 256 * 1024,
  maxListEntries: 500,
  maxSearchResults: 100,
};

export type FileToolsOptions = {
  /** The working copy. */
  workspace: string;
  limits?: Partial<FileToolLimits>;
  /**
   * What a write may leave (per file) and what a turn may write (in all); the runner
   * resets it at each turn. Default: DEFAULT_WRITE_LIMITS, never reset.
   */
  budget?: WriteBudget;
};

/** What write_file and edit_file report: the runner shows the diff with the action. */
export type FileChange = { path: string; created: boolean; diff: string };

/** The longest line search_files quotes (minified files would flood the model otherwise). */
const MAX_QUOTED_LINE = 200;

/** Folders never worth walking into, should one appear under the roots. */
const SKIPPED_FOLDERS = new Set(['node_modules', '.git']);

export function createFileTools(options: FileToolsOptions) {
  const { workspace } = options;
  const limits = { ...DEFAULT_FILE_TOOL_LIMITS, ...options.limits };
  const budget = options.budget ?? createWriteBudget();
  /** Refuses a write over the budget (before anything touches the disk), else counts it. */
  const spend = (relative: string, bytes: number, resultBytes = bytes) => {
    const refusal = budget.refusal(relative, bytes, resultBytes);
    if (refusal) throw new FileToolError(refusal);
    budget.charge(bytes);
  };
  const confine = (given: string) => guard(given, () => confinePath(workspace, given, { exclude: EXCLUDED }));

  return {
    list_files: tool({
      description:
        'List the files under a folder of the project, recursively (paths relative to the project folder). Without a path, lists the whole project (never node_modules/ or .git/).',
      inputSchema: z.object({
        path: z.string().optional().describe('Folder to list, e.g. "src/scenes". Default: the whole project.'),
      }),
      execute: async ({ path: given }) => {
        const folders = given ? [await confine(given)] : await Promise.all(FILE_TOOL_ROOTS.map(confine));
        const files: string[] = [];
        let truncated = false;
        for (const folder of folders) {
          const kind = await guard(folder.relative, () => stat(folder.absolute)).catch((error: unknown) => {
            // The default roots need not exist (a project without public/).
            if (!given && error instanceof FileToolError) return null;
            throw error;
          });
          if (kind === null) continue;
          if (!kind.isDirectory()) throw new FileToolError(`${folder.relative} is a file, not a folder; use read_file to read it.`);
          truncated = (await walk(workspace, folder.absolute, files, limits.maxListEntries)) || truncated;
        }
        return { files, truncated };
      },
      toModelOutput: ({ output }) => text(listText(output.files, output.truncated, limits.maxListEntries)),
    }),

    search_files: tool({
      description:
        'Search the project files for a regular expression (or plain text, if it is not a valid one). Returns matching lines as file:line: text.',
      inputSchema: z.object({
        pattern: z.string().min(1).describe('A JavaScript regular expression or plain text.'),
        path: z.string().optional().describe('Folder or file to search in. Default: the whole project.'),
      }),
      execute: async ({ pattern, path: given }) => {
        const matcher = toMatcher(pattern);
        const targets = given ? [await confine(given)] : await Promise.all(FILE_TOOL_ROOTS.map(confine));
        const files: string[] = [];
        for (const target of targets) {
          const kind = await stat(target.absolute).catch(() => null);
          if (kind?.isFile()) files.push(target.relative);
          else if (kind?.isDirectory()) await walk(workspace, target.absolute, files, Number.POSITIVE_INFINITY);
          else if (given) throw new FileToolError(`${target.relative} does not exist.`);
        }
        const matches: string[] = [];
        let truncated = false;
        for (const file of files) {
          if (matches.length >= limits.maxSearchResults) {
            truncated = true;
            break;
          }
          // Each file confined again: a symlink in the listing may lead out of the roots.
          const content = await confinePath(workspace, file, { exclude: EXCLUDED })
            .then((confined) => readText(confined.absolute, limits.maxReadBytes))
            .catch(() => null);
          if (content === null) continue; // refused, binary, too large or gone: not searchable text
          const lines = content.split('\n');
          for (const index of matcher(lines)) {
            if (matches.length >= limits.maxSearchResults) truncated = true;
            else matches.push(`${file}:${index + 1}: ${quoteLine(lines[index]!)}`);
          }
        }
        return { matches, truncated };
      },
      toModelOutput: ({ output }) =>
        text(
          output.matches.length === 0
            ? 'No matches.'
            : output.matches.join('\n') + (output.truncated ? `\n… (only the first ${limits.maxSearchResults} matches)` : ''),
        ),
    }),

    read_file: tool({
      description: 'Read a text file of the project (path relative to the project folder, e.g. "src/Root.tsx").',
      inputSchema: z.object({ path: z.string().describe('The file to read.') }),
      execute: async ({ path: given }) => {
        const file = await confine(given);
        const content = await guard(file.relative, () => readText(file.absolute, limits.maxReadBytes, file.relative));
        return { path: file.relative, content };
      },
      toModelOutput: ({ output }) => text(output.content),
    }),

    view_image: tool({
      description:
        'Look at an image file of the project (PNG, JPEG, GIF or WebP, e.g. one the person uploaded to public/): you see the picture itself. Use it to check what a logo or photo looks like before placing it.',
      inputSchema: z.object({ path: z.string().describe('The image to look at, e.g. "public/logo.png".') }),
      execute: async ({ path: given }) => {
        const file = await confine(given);
        return guard(file.relative, () => readImage(file.absolute, file.relative));
      },
      toModelOutput: ({ output }) => ({
        type: 'content' as const,
        value: [
          { type: 'text' as const, text: `${output.path}: ${output.mediaType}, ${output.bytes} bytes.` },
          { type: 'image-data' as const, data: output.data, mediaType: output.mediaType },
        ],
      }),
    }),

    write_file: tool({
      description:
        'Create a file or replace its whole content (folders are created as needed). Prefer edit_file for changes to an existing file.',
      inputSchema: z.object({
        path: z.string().describe('The file to write, e.g. "src/scenes/Intro.tsx".'),
        content: z.string().describe('The complete new content of the file.'),
      }),
      execute: async ({ path: given, content }): Promise<FileChange> => {
        const file = await confine(given);
        spend(file.relative, utf8Bytes(content));
        return guard(file.relative, async () => {
          const before = await readFile(file.absolute, 'utf8').catch((error: unknown) => {
            if (errorCode(error) === 'ENOENT') return null;
            throw error;
          });
          await mkdir(path.dirname(file.absolute), { recursive: true });
          await writeFile(file.absolute, content);
          return { path: file.relative, created: before === null, diff: fileDiff(file.relative, before, content) };
        });
      },
      toModelOutput: ({ output }) => text(`${output.created ? 'Created' : 'Wrote'} ${output.path}.`),
    }),

    edit_file: tool({
      description:
        'Replace one piece of text in a file. old_string must occur exactly once in the file: copy it exactly (whitespace included) from read_file, with enough surrounding lines to make it unique.',
      inputSchema: z.object({
        path: z.string().describe('The file to edit.'),
        old_string: z.string().describe('The exact text to replace; must occur exactly once.'),
        new_string: z.string().describe('The text to put in its place.'),
      }),
      execute: async ({ path: given, old_string: oldString, new_string: newString }): Promise<FileChange> => {
        const file = await confine(given);
        if (oldString.length === 0) throw new FileToolError('old_string is empty; to create or replace a whole file use write_file.');
        if (oldString === newString) throw new FileToolError('old_string and new_string are the same; nothing would change.');
        // Refused before the new content is built, when the new text alone is too much.
        const newBytes = utf8Bytes(newString);
        const early = budget.refusal(file.relative, newBytes);
        if (early) throw new FileToolError(early);
        return guard(file.relative, async () => {
          const before = await readText(file.absolute, limits.maxReadBytes, file.relative);
          const count = occurrences(before, oldString);
          if (count === 0) {
            throw new FileToolError(
              `old_string does not occur in ${file.relative}. Read the file again and copy the text exactly, whitespace included.`,
            );
          }
          if (count > 1) {
            throw new FileToolError(
              `old_string occurs ${count} times in ${file.relative}; it must occur exactly once. Include more of the surrounding lines to make it unique.`,
            );
          }
          // A function replacement, so `$&` and friends in new_string stay literal.
          const after = before.replace(oldString, () => newString);
          spend(file.relative, newBytes, utf8Bytes(after));
          await writeFile(file.absolute, after);
          return { path: file.relative, created: false, diff: fileDiff(file.relative, before, after) };
        });
      },
      toModelOutput: ({ output }) => text(`Edited ${output.path}.`),
    }),
  };
}

export type FileTools = ReturnType<typeof createFileTools>;
export type FileToolName = keyof FileTools;

const text = (value: string) => ({ type: 'text' as const, value });

/** The largest image view_image sends (the providers' own limit is about 5 MB). */
export const MAX_VIEW_IMAGE_BYTES = 4 * 1024 * 1024;

const IMAGE_SIGNATURES: [string, (bytes: Buffer) => boolean][] = [
  ['image/png', (bytes) => bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))],
  ['image/jpeg', (bytes) => bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff],
  ['image/gif', (bytes) => bytes.subarray(0, 4).toString('latin1') === 'GIF8'],
  ['image/webp', (bytes) => bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP'],
];

/** An image file as the model sees it: its type from its bytes, base64. */
async function readImage(absolute: string, relative: string): Promise<{ path: string; mediaType: string; bytes: number; data: string }> {
  const info = await stat(absolute);
  if (!info.isFile()) throw new FileToolError(`${relative} is not a file.`);
  if (info.size > MAX_VIEW_IMAGE_BYTES) throw new FileToolError(`${relative} is ${info.size} bytes; images of at most ${MAX_VIEW_IMAGE_BYTES} bytes can be viewed.`);
  const bytes = await readFile(absolute);
  const mediaType = IMAGE_SIGNATURES.find(([, matches]) => matches(bytes))?.[0];
  if (!mediaType) throw new FileToolError(`${relative} is not a PNG, JPEG, GIF or WebP image (SVG is text: read it with read_file).`);
  return { path: relative, mediaType, bytes: bytes.length, data: bytes.toString('base64') };
}

/**
 * Runs a file operation and turns file-system errors into `FileToolError`s the model can
 * act on ("does not exist", "is a folder"), keeping refusals and tool errors as they are.
 */
async function guard<T>(subject: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof FileToolError || error instanceof PathRefused) throw error;
    throw new FileToolError(describeFsError(subject, error));
  }
}

function describeFsError(subject: string, error: unknown): string {
  switch (errorCode(error)) {
    case 'ENOENT':
      return `${subject} does not exist.`;
    case 'EISDIR':
      return `${subject} is a folder, not a file.`;
    case 'ENOTDIR':
      return `A part of ${subject} is a file, not a folder.`;
    case 'EACCES':
    case 'EPERM':
      return `${subject} may not be used (permission denied).`;
    default:
      return `${subject}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

/** Reads a UTF-8 text file, refusing large and binary files (they would only waste the model's context). */
async function readText(absolute: string, maxBytes: number, shown = absolute): Promise<string> {
  const info = await stat(absolute);
  if (info.isDirectory()) throw new FileToolError(`${shown} is a folder; use list_files to see what it holds.`);
  if (info.size > maxBytes) {
    throw new FileToolError(`${shown} is too large to read (${info.size} bytes; the limit is ${maxBytes}).`);
  }
  const buffer = await readFile(absolute);
  if (buffer.includes(0)) throw new FileToolError(`${shown} is a binary file, not text.`);
  return buffer.toString('utf8');
}

/**
 * Collects the files under `folder` (paths relative to the working copy, in code-point order so listings are stable) into
 * `into`, up to `max` entries in all. Symlinks are listed but never followed: one could
 * lead out of the roots or round in a loop. Returns whether the listing was cut.
 */
async function walk(workspace: string, folder: string, into: string[], max: number): Promise<boolean> {
  const entries = (await readdir(folder, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (into.length >= max) return true;
    const absolute = path.join(folder, entry.name);
    if (entry.isDirectory()) {
      if (SKIPPED_FOLDERS.has(entry.name)) continue;
      if (await walk(workspace, absolute, into, max)) return true;
    } else {
      into.push(path.relative(workspace, absolute));
    }
  }
  return false;
}

function listText(files: string[], truncated: boolean, max: number): string {
  if (files.length === 0) return 'No files.';
  return files.join('\n') + (truncated ? `\n… (only the first ${max} entries)` : '');
}

/** How long one file's regular-expression search may take: a pattern that backtracks badly must not freeze the runtime. */
const REGEX_LIMIT_MS = 500;
const regexScript = new vm.Script('lines.flatMap((line, index) => (regex.test(line) ? [index] : []))');
const regexContext = vm.createContext({});

/** The matching lines' indexes: as a regular expression when the pattern is one, else as plain text. */
function toMatcher(pattern: string): (lines: string[]) => number[] {
  let regex: RegExp;
  try {
    regex = new RegExp(pattern);
  } catch {
    return (lines) => lines.flatMap((line, index) => (line.includes(pattern) ? [index] : []));
  }
  return (lines) => {
    regexContext.regex = regex;
    regexContext.lines = lines;
    try {
      return regexScript.runInContext(regexContext, { timeout: REGEX_LIMIT_MS }) as number[];
    } catch {
      throw new FileToolError('That search pattern takes too long to run; use plain text or a simpler regular expression.');
    } finally {
      regexContext.lines = null;
    }
  };
}

function quoteLine(line: string): string {
  const trimmed = line.trim();
  return trimmed.length > MAX_QUOTED_LINE ? `${trimmed.slice(0, MAX_QUOTED_LINE)}…` : trimmed;
}

/** How many times `needle` occurs in `haystack` (overlapping occurrences count: they make the edit ambiguous too). */
function occurrences(haystack: string, needle: string): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) count += 1;
  return count;
}

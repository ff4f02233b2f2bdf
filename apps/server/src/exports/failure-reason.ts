/**
 * Short reasons for people out of long tool errors: the first line that says what went
 * wrong, without colours, box drawing or code frames, and with paths made relative to
 * the project.
 */

/** Terminal colour codes (ESC [ … letter). */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g');
/** Box drawing and markers the bundler (rspack/swc) puts before its lines. */
const DECORATION = /^[\s│├╰╭─▶×┬┴┼]*(?:x\s+)?/u;
const LOCATION = /,-\[(.+?):(\d+):(\d+)\]/;
const MAX_REASON = 300;

const clip = (text: string) => (text.length > MAX_REASON ? `${text.slice(0, MAX_REASON - 1)}…` : text);

function relative(file: string, projectDir?: string) {
  if (projectDir && file.startsWith(`${projectDir}/`)) return file.slice(projectDir.length + 1);
  return file.split('/').slice(-2).join('/');
}

/** The first meaningful line of an error message. */
export function firstLine(message: string, projectDir?: string): string {
  const text = message.replace(ANSI, '');
  const lines = text
    .split('\n')
    .map((line) => line.replace(DECORATION, '').trim())
    .filter((line) => line && line !== 'undefined' && !/^Module build failed/i.test(line) && !/^[,|`]|^\d+\s*\|/.test(line));
  let line = lines[0] ?? 'unknown error';
  if (projectDir) line = line.split(`${projectDir}/`).join('');
  const location = LOCATION.exec(text);
  if (location && !line.includes(location[1]!)) line = `${line} (${relative(location[1]!, projectDir)}:${location[2]}:${location[3]})`;
  return clip(line);
}

/** The reason an export failed at `stage`, for people. */
export function failureReason(stage: 'checkout' | 'bundle' | 'compositions' | 'render', error: unknown, projectDir?: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = firstLine(message, projectDir);
  switch (stage) {
    case 'checkout':
      return clip(`The version could not be read: ${line}`);
    case 'bundle':
      return clip(`Bundling failed: ${line}`);
    case 'compositions':
      return clip(`The project could not be loaded: ${line}`);
    case 'render':
      return clip(`The render failed: ${line}`);
  }
}

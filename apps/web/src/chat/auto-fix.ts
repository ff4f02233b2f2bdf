import type { TurnStatus } from '@cutroom/protocol';

/**
 * Automatic fixes, the client's half (pure parts): when the agent's turn leaves the
 * preview broken, the page sends the agent a report of the error as a message marked
 * `autoFix`. A few attempts per distinct error, then it stops and says so. The server
 * refuses a 4th automatic fix in a row on its own (`auto_fix_limit`).
 */

/** Automatic fixes for the same error before the page stops trying. */
export const AUTO_FIX_MAX_ATTEMPTS = 3;
/** After the turn (or the error, if later), the time hot reload gets to fix or break things. */
export const AUTO_FIX_SETTLE_MS = 1_500;
/** How long after a turn an error that appears still counts as the turn's. */
export const AUTO_FIX_WATCH_MS = 5_000;
/**
 * A tab that did not send the turn's message waits this much longer, so that the tab
 * that did goes first (its report then shows here as a queued turn, and this tab stands down).
 */
export const AUTO_FIX_OTHER_TAB_DELAY_MS = 2_000;

/** The error the preview shows now. */
export type PreviewProblem = {
  key: string;
  message: string;
  file: string | null;
  stack: string | null;
  componentStack: string | null;
  /** When it was first reported (ms since the epoch); reports of the same error keep it. */
  since: number;
};

/**
 * The same error, however it is reported: message and file, without Vite's `?t=…`
 * timestamps and `?v=…` hashes, line and column numbers, preview origins and session
 * paths, and runs of white space.
 */
export function errorKey(message: string, file: string | null): string {
  const normalise = (text: string) =>
    text
      .replace(/https?:\/\/[^/\s]+\/s\/[^/\s]+\//g, '/')
      .replace(/(\.[a-z]{1,5})\?[^\s:)'"]*/gi, '$1')
      .replace(/:\d+(?::\d+)?(?=[\s)\]'",]|$)/gm, '')
      .replace(/\(\d+:\d+\)/g, '')
      .replace(/\s+/g, ' ')
      .trim();
  return `${normalise(message)}\u0000${normalise(file ?? '')}`;
}

const MAX_FRAMES = 12;
const MAX_LINE = 300;
const isFrame = (line: string) => /^\s*at\s/.test(line) || /^[^\s@]*@\S+:\d+/.test(line);
/** Frames of dependencies, of the preview page and of Vite's server say little about the project's bug. */
const isNoiseFrame = (line: string) => /\/node_modules\/|\/deps\/[^/\s]+\.js|\/s\/[^/\s]+\/main\.tsx|file:\/\/|\(<anonymous>\)/.test(line);
const cutLine = (line: string) => (line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line);

/**
 * A stack cut to what helps: what precedes the frames (a build error's code frame; not
 * the line that repeats the message), then the project's frames, or else the first few.
 */
export function trimStack(stack: string | null, message: string): string | null {
  if (!stack) return null;
  const firstLine = message.split('\n')[0]?.trim();
  const lines = stack.split('\n').map((line) => line.trimEnd()).filter((line) => line.trim());
  const frames = lines.filter(isFrame);
  const context = lines.filter((line) => !isFrame(line) && !(firstLine && line.includes(firstLine))).slice(0, MAX_FRAMES);
  const useful = frames.filter((line) => !isNoiseFrame(line));
  const shown = (useful.length > 0 ? useful : frames.filter((line) => !line.includes('file://')).slice(0, 3)).slice(0, MAX_FRAMES);
  const omitted = frames.length - shown.length;
  const kept = [...context, ...shown].map(cutLine);
  if (kept.length === 0) return null;
  if (omitted > 0) kept.push(`    … ${omitted} more frame${omitted === 1 ? '' : 's'} (dependencies and the preview page)`);
  return kept.join('\n');
}

const MAX_COMPONENT_FRAMES = 10;
const MAX_MESSAGE = 4_000;

/** The message an automatic fix sends: it starts "The preview shows an error". */
export function autoFixReport(problem: Pick<PreviewProblem, 'message' | 'file' | 'stack' | 'componentStack'>): string {
  const message = problem.message.length > MAX_MESSAGE ? `${problem.message.slice(0, MAX_MESSAGE)}…` : problem.message;
  const stack = trimStack(problem.stack, problem.message);
  const componentStack = problem.componentStack
    ?.split('\n')
    .filter((line) => line.trim() && !isNoiseFrame(line))
    .slice(0, MAX_COMPONENT_FRAMES)
    .map(cutLine)
    .join('\n');
  const parts = [
    `The preview shows an error after the last change${problem.file ? ` (in ${problem.file})` : ''}. Find the cause and fix it, then check that the video plays.`,
    `Error: ${message}`,
  ];
  if (problem.file) parts.push(`File: ${problem.file}`);
  if (stack) parts.push(`Stack (trimmed):\n${stack}`);
  if (componentStack) parts.push(`Component stack:\n${componentStack}`);
  return parts.join('\n\n').slice(0, 19_000);
}

export type AutoFixDecision =
  /** Nothing to do until something changes. */
  | { kind: 'idle' }
  /** Ask again at `until` (or when something changes before). */
  | { kind: 'wait'; until: number }
  /** Send a report of the problem now. */
  | { kind: 'send' }
  /** The attempts for this error are used up: say so, and stop. */
  | { kind: 'stop' }
  /** This turn needs no fix (it did not end normally, or another turn is under way): forget it. */
  | { kind: 'done' };

/**
 * After a turn this tab saw end (`completion`), whether to send a report of the preview's
 * error: when the preview still shows one once hot reload had time to settle, or shows
 * one within a few seconds of the turn, and nothing else is running or waiting. A
 * cancelled or failed turn is left to the person (they stopped it, or the agent could not go on).
 */
export function decideAutoFix(input: {
  now: number;
  completion: { at: number; own: boolean; status: TurnStatus } | null;
  problem: PreviewProblem | null;
  /** A turn runs or waits, or a message of this tab is on its way. */
  busy: boolean;
  /** Automatic fixes already sent for the problem's error. */
  attempts: number;
}): AutoFixDecision {
  const { now, completion, problem, busy, attempts } = input;
  if (!completion) return { kind: 'idle' };
  if (busy || completion.status !== 'done') return { kind: 'done' };
  const watchEnd = completion.at + AUTO_FIX_WATCH_MS;
  if (!problem) return now >= watchEnd ? { kind: 'done' } : { kind: 'wait', until: watchEnd };
  if (problem.since > watchEnd) return { kind: 'done' };
  const start = completion.at + (completion.own ? 0 : AUTO_FIX_OTHER_TAB_DELAY_MS);
  const ready = Math.max(start, problem.since) + AUTO_FIX_SETTLE_MS;
  if (now < ready) return { kind: 'wait', until: ready };
  return attempts >= AUTO_FIX_MAX_ATTEMPTS ? { kind: 'stop' } : { kind: 'send' };
}

/**
 * What the agent may write: one tool call at most `maxFileBytes` (the file it leaves
 * behind), one turn at most `maxTurnBytes` in all. Both runners refuse a call over
 * either before it touches the disk; the model gets the refusal as the tool's result
 * and the turn goes on. (The server's commit of a turn skips any file over
 * `maxFileBytes` that got into the working copy anyway, e.g. through a shell.)
 */
export type WriteLimits = {
  /** The largest file one write or edit may leave (bytes). AGENT_MAX_FILE_BYTES. */
  maxFileBytes: number;
  /** What one turn may write in all (bytes). AGENT_MAX_TURN_BYTES. */
  maxTurnBytes: number;
};

export const DEFAULT_WRITE_LIMITS: WriteLimits = {
  maxFileBytes: 1024 * 1024,
  maxTurnBytes: 20 * 1024 * 1024,
};

/** The bytes of `text` as UTF-8, without encoding it (a 100 MB string must not be copied to measure it). */
export const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');

/** A size for people: "5.0 MB", "1 MiB" style is overkill for a refusal. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

/**
 * One turn's write budget. `refusal` says why a write of `bytes` (leaving a file of
 * `resultBytes`) may not happen, or null; `charge` counts a write that is going ahead.
 */
export function createWriteBudget(limits: Partial<WriteLimits> = {}) {
  const { maxFileBytes, maxTurnBytes } = { ...DEFAULT_WRITE_LIMITS, ...limits };
  let written = 0;
  return {
    limits: { maxFileBytes, maxTurnBytes } as WriteLimits,
    /** A new turn: nothing written yet. */
    reset() {
      written = 0;
    },
    written: () => written,
    refusal(file: string, bytes: number, resultBytes = bytes): string | null {
      if (resultBytes > maxFileBytes) {
        return `Refused: ${file} would be ${formatBytes(resultBytes)}; one file may be at most ${formatBytes(maxFileBytes)}. Write smaller files (split large data, or generate it in code).`;
      }
      if (written + bytes > maxTurnBytes) {
        return `Refused: this turn has written ${formatBytes(written)} already, and may write at most ${formatBytes(maxTurnBytes)} in all. Finish the turn, or write less.`;
      }
      return null;
    },
    charge(bytes: number) {
      written += bytes;
    },
  };
}

export type WriteBudget = ReturnType<typeof createWriteBudget>;

/** How much of an oversized string a shortened tool input keeps. */
const KEPT_CHARS = 2_000;

/**
 * A tool call's input with every string longer than `maxChars` cut to its first few KB
 * and a note of its size, so a refused 100 MB write is not carried along in the
 * conversation (sent again with every later request) or in messages.
 */
export function shortenToolInput<T>(input: T, maxChars = 64 * 1024): T {
  if (typeof input === 'string') {
    return (input.length > maxChars ? `${input.slice(0, KEPT_CHARS)}… (${formatBytes(utf8Bytes(input))} not kept)` : input) as T;
  }
  if (Array.isArray(input)) return input.map((item: unknown) => shortenToolInput(item, maxChars)) as T;
  if (input !== null && typeof input === 'object') {
    return Object.fromEntries(Object.entries(input).map(([key, value]) => [key, shortenToolInput(value, maxChars)])) as T;
  }
  return input;
}

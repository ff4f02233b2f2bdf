import type { ServerResponse } from 'node:http';

/**
 * Splits text into up to `pieces` chunks at word boundaries, so clients see a real
 * stream of several deltas (whitespace stays with the word before it).
 */
export function splitText(text: string, pieces = 4): string[] {
  const words = text.match(/\s*\S+\s*|\s+/g) ?? [];
  return group(words, pieces);
}

/**
 * Splits a JSON string into up to `pieces` chunks anywhere (as the Anthropic API does
 * with partial_json), but never inside a surrogate pair.
 */
export function splitJson(json: string, pieces = 3): string[] {
  return group(Array.from(json), pieces);
}

function group(units: string[], pieces: number): string[] {
  const count = Math.min(pieces, units.length);
  const chunks: string[] = [];
  for (let i = 0; i < count; i++) {
    chunks.push(units.slice(Math.floor((i * units.length) / count), Math.floor(((i + 1) * units.length) / count)).join(''));
  }
  return chunks;
}

/**
 * Writes a streamed answer piece by piece with an optional pause between pieces. Stops
 * quietly when the client has gone (an agent interrupted mid-stream), so an abandoned
 * stream never throws.
 */
export class ChunkWriter {
  private gone = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly res: ServerResponse,
    private readonly delayMs: number,
  ) {
    res.on('close', () => {
      this.gone = true;
      this.wake?.();
    });
  }

  get closed(): boolean {
    return this.gone || this.res.destroyed;
  }

  /** Writes one piece now, without a pause (headers and framing events). */
  async write(data: string): Promise<void> {
    if (this.closed) return;
    // Respect backpressure: a large file's content may exceed the socket buffer.
    if (!this.res.write(data)) await new Promise<void>((resolve) => this.waitFor('drain', resolve));
  }

  /** Waits the step's delay, then writes: used between content chunks. */
  async writePaced(data: string): Promise<void> {
    if (this.delayMs > 0 && !this.closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.delayMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = null;
    }
    await this.write(data);
  }

  end(): void {
    if (!this.closed) this.res.end();
  }

  private waitFor(event: 'drain', resolve: () => void): void {
    const finish = () => {
      this.res.off(event, finish);
      this.res.off('close', finish);
      resolve();
    };
    this.res.on(event, finish);
    this.res.on('close', finish);
  }
}

/** A rough token count (about four characters a token), enough for plausible usage figures. */
export function estimateTokens(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? '');
  return Math.max(1, Math.ceil(text.length / 4));
}

import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import { TokenBucket } from './token-bucket.js';

/** WebSocket close code for a client that broke the connection's policy (RFC 6455). */
export const CLOSE_POLICY_VIOLATION = 1008;

/** The most a server frame's header adds to its payload (no mask, 64-bit length). */
const FRAME_HEADER_BYTES = 10;

/** What one connection may cost the server. Defaults in {@link DEFAULT_FRAME_LIMITS}. */
export type FrameLimits = {
  /** Frames handled per second, sustained; faster frames wait their turn. */
  framesPerSecond: number;
  /** Frames handled at once above the sustained rate. */
  burst: number;
  /** Frames that had to wait for the rate since the client was last caught up; past it, 1008. */
  maxThrottledFrames: number;
  /** Frames (or their bytes) waiting to be handled at which the socket stops being read. */
  pauseAtFrames: number;
  pauseAtBytes: number;
  /** Frames (or their bytes) waiting beyond which the client is closed with 1008. */
  maxQueuedFrames: number;
  maxQueuedBytes: number;
  /** Frames larger than this are not kept: the handler gets only their size. */
  maxFrameBytes: number;
  /** Bytes sent but not yet taken by the client beyond which replies to its own bad frames are dropped. */
  replyBufferBytes: number;
  /** Bytes sent but not yet taken by the client beyond which it is closed with 1008 ("not reading"). */
  maxBufferedBytes: number;
  /** How long a client closed for policy has to finish the closing handshake before its socket is cut. */
  closeGraceMs: number;
};

export const DEFAULT_FRAME_LIMITS: Omit<FrameLimits, 'maxFrameBytes'> = {
  framesPerSecond: 50,
  burst: 100,
  maxThrottledFrames: 250,
  pauseAtFrames: 32,
  pauseAtBytes: 512 * 1024,
  maxQueuedFrames: 256,
  maxQueuedBytes: 2 * 1024 * 1024,
  replyBufferBytes: 256 * 1024,
  maxBufferedBytes: 16 * 1024 * 1024,
  closeGraceMs: 2_000,
};

/** A frame as the handler gets it; `data` is null when it was over `maxFrameBytes`. */
export type Frame = { data: Buffer | null; isBinary: boolean; byteLength: number };

export type GuardedConnection = {
  /** Sends a frame the client needs (session events); a client that does not read them is closed. */
  send(text: string): void;
  /** Sends the answer to the client's own frame; dropped while the client is not reading. */
  reply(text: string): void;
  /** Why the connection was closed for policy, if it was. */
  readonly violation: string | undefined;
};

/**
 * Puts one connection's frames through a bounded queue that its handler drains one frame
 * at a time, in order, at most `framesPerSecond` (with a `burst`). When the queue grows,
 * the socket stops being read (TCP backpressure reaches the sender) until it drains. A
 * client that keeps sending faster than the rate, overfills the queue anyway (frames already
 * read when reading stopped), or stops reading what it is sent, is closed with 1008 and a
 * reason; its socket is cut if it does not finish closing. This bounds the memory and the
 * event-loop time one client can take, whatever it sends.
 */
export function guardConnection(
  socket: WebSocket,
  options: { limits: FrameLimits; log: FastifyBaseLogger; handle: (frame: Frame) => Promise<void>; onViolation?: (reason: string) => void },
): GuardedConnection {
  const { limits, log } = options;
  const bucket = new TokenBucket(limits.framesPerSecond, limits.burst);
  const pending: Frame[] = [];
  let pendingBytes = 0;
  let pumping = false;
  let throttled = 0;
  let droppedReplies = 0;
  let ended = false;
  let violation: string | undefined;

  socket.on('close', () => {
    ended = true;
    pending.length = 0;
    pendingBytes = 0;
  });

  socket.on('message', (data: Buffer, isBinary: boolean) => {
    if (ended) return;
    const kept = data.byteLength > limits.maxFrameBytes ? null : data;
    pending.push({ data: kept, isBinary, byteLength: data.byteLength });
    pendingBytes += kept ? kept.byteLength : 0;
    if (pending.length > limits.maxQueuedFrames || pendingBytes > limits.maxQueuedBytes) {
      return violate('too many frames waiting', { queuedFrames: pending.length, queuedBytes: pendingBytes });
    }
    if (!socket.isPaused && (pending.length >= limits.pauseAtFrames || pendingBytes >= limits.pauseAtBytes)) {
      socket.pause();
    }
    void pump();
  });

  /** Handles waiting frames in order, one at a time, at the rate; one pump runs at once. */
  async function pump() {
    if (pumping) return;
    pumping = true;
    try {
      while (pending.length > 0 && !ended) {
        const wait = bucket.take();
        if (wait > 0) {
          if (++throttled > limits.maxThrottledFrames) {
            return violate('sending too fast', { throttledFrames: throttled });
          }
          await new Promise((resolve) => setTimeout(resolve, wait));
          continue;
        }
        const frame = pending.shift()!;
        pendingBytes -= frame.data ? frame.byteLength : 0;
        if (socket.isPaused && pending.length < limits.pauseAtFrames / 2 && pendingBytes < limits.pauseAtBytes / 2) {
          socket.resume();
        }
        // The handler answers its own failures; this only keeps one from stopping the pump.
        await options.handle(frame).catch((error: unknown) => log.error({ err: error }, 'websocket handler failed'));
      }
      if (pending.length === 0) throttled = 0;
    } finally {
      pumping = false;
    }
  }

  function violate(reason: string, details: Record<string, number>) {
    if (ended || violation) return;
    violation = reason;
    log.warn({ reason, ...details, bufferedBytes: socket.bufferedAmount, droppedReplies }, 'websocket client closed for policy');
    // Last words, for a client that still reads (a typed error), before anything is refused.
    options.onViolation?.(reason);
    ended = true;
    pending.length = 0;
    pendingBytes = 0;
    socket.close(CLOSE_POLICY_VIOLATION, reason);
    // Read no more of what it sends (its answering close frame included): a flooder would
    // keep the server parsing frames it drops. The socket is cut after the grace instead.
    socket.pause();
    const cut = setTimeout(() => socket.terminate(), limits.closeGraceMs);
    cut.unref();
    socket.once('close', () => clearTimeout(cut));
  }

  function send(text: string) {
    if (ended || socket.readyState !== socket.OPEN) return;
    const frameBytes = Buffer.byteLength(text) + FRAME_HEADER_BYTES;
    if (socket.bufferedAmount + frameBytes > limits.maxBufferedBytes) return violate('not reading', { frameBytes });
    socket.send(text);
  }

  return {
    send,
    reply(text) {
      if (socket.bufferedAmount > limits.replyBufferBytes) {
        droppedReplies++;
        return;
      }
      send(text);
    },
    get violation() {
      return violation;
    },
  };
}

import type { ServerMessage } from '@cutroom/protocol';

/**
 * Where a reconnect resumes: the session whose events the tab has, and the last `seq` it
 * has of it. Each session numbers its own events, so a `seq` means nothing without its
 * session: a `session:start` sends both, and the server replays from there only for that
 * same session (else it sends a snapshot and says so).
 */
export type ResumePoint = { sessionId?: string; lastSeq?: number };

/** The resume point after `message`. */
export function advanceResumePoint(point: ResumePoint, message: ServerMessage): ResumePoint {
  switch (message.type) {
    case 'session:joined':
      // After a replay or a snapshot: exactly where the tab now is in this session.
      return { sessionId: message.sessionId, lastSeq: message.lastSeq };
    case 'session:ended':
      // The next session numbers from 1 again: nothing to resume.
      return {};
    default: {
      if (!('seq' in message) || typeof message.seq !== 'number') return point;
      const sessionId = 'sessionId' in message ? message.sessionId : point.sessionId;
      if (sessionId !== point.sessionId) return { sessionId, lastSeq: message.seq };
      return { sessionId, lastSeq: Math.max(point.lastSeq ?? 0, message.seq) };
    }
  }
}

/** The fields of `session:start` that ask for a replay; none when there is nothing to resume. */
export function resumeFields(point: ResumePoint): { sessionId: string; lastSeq: number } | Record<string, never> {
  return point.sessionId !== undefined && point.lastSeq !== undefined ? { sessionId: point.sessionId, lastSeq: point.lastSeq } : {};
}

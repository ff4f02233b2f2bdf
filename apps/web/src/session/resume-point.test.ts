import type { ServerMessage } from '@cutroom/protocol';
import { describe, expect, it } from 'vitest';
import { type ResumePoint, advanceResumePoint, resumeFields } from './resume-point';

const run = (messages: ServerMessage[], from: ResumePoint = {}) => messages.reduce(advanceResumePoint, from);
const status = (sessionId: string, seq: number): ServerMessage => ({ type: 'session:status', sessionId, seq, state: 'running' });

describe('resume point', () => {
  it('follows the events of its session', () => {
    const point = run([status('a', 1), status('a', 2), { type: 'session:joined', sessionId: 'a', state: 'running', replay: 'snapshot', lastSeq: 2 }, status('a', 3)]);
    expect(resumeFields(point)).toEqual({ sessionId: 'a', lastSeq: 3 });
  });

  it("after a restarted server's snapshot, resumes from the new session's numbers, not the larger old ones", () => {
    // 40 events of session a; the server restarts; session b numbers from 1.
    const before: ResumePoint = { sessionId: 'a', lastSeq: 40 };
    const point = run([status('b', 1), { type: 'session:joined', sessionId: 'b', state: 'starting', replay: 'snapshot', lastSeq: 1 }, status('b', 2)], before);
    expect(resumeFields(point)).toEqual({ sessionId: 'b', lastSeq: 2 });
  });

  it('asks for no replay after its session ended, or before any', () => {
    expect(resumeFields(run([status('a', 5), { type: 'session:ended', sessionId: 'a', seq: 6, reason: 'gone' }]))).toEqual({});
    expect(resumeFields({})).toEqual({});
  });

  it('an error of the stream (no sessionId) counts for the current session', () => {
    const point = run([{ type: 'error', seq: 9, code: 'session_failed', message: 'x' }], { sessionId: 'a', lastSeq: 8 });
    expect(resumeFields(point)).toEqual({ sessionId: 'a', lastSeq: 9 });
  });
});

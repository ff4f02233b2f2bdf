import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from '@fastify/websocket';
import {
  ClientMessage,
  MAX_FRAME_BYTES,
  MAX_JSON_DEPTH,
  PROTOCOL_VERSION,
  type ServerMessage,
  type User,
} from '@cutroom/protocol';
import type { ProjectService } from '../projects/project-service.js';
import { ChatRefusal } from '../agent/turns.js';
import { AppError } from '../errors.js';
import { type SessionClient, SessionLimitError, type SessionManager } from '../sessions/session-manager.js';
import { DEFAULT_FRAME_LIMITS, type Frame, type FrameLimits, guardConnection } from './frame-guard.js';
import { exceedsJsonDepth } from './json-depth.js';
import type { UserSockets } from './user-sockets.js';

/** A connection that answers no ping for this long is dropped (and its session detached). */
const HEARTBEAT_MS = 30_000;

/**
 * The `/ws` endpoint. The upgrade itself is guarded (allowed Origin, signed-in user);
 * after it every frame goes through the connection's guard (rate, bounded queue,
 * backpressure, a client that does not read: see frame-guard.ts), is size- and
 * depth-checked, then parsed with the protocol's schema; any bad frame gets an `error`
 * frame back, never a crash or a silent drop. Abuse closes the connection: 1008 for
 * policy (too fast, too many frames waiting, not reading), 1009 past
 * `MAX_FRAME_PAYLOAD_BYTES` (the `ws` server's `maxPayload`).
 *
 * `session:start` joins the project's live session (see `sessions/`); without a session
 * manager (some tests) it is answered `sessions_unavailable`. `message:send` saves the
 * message and queues it for the session's agent (see agent/turns.ts); a message that
 * cannot be taken is answered with an error naming its `clientMessageId`.
 */
export function registerGateway(
  app: FastifyInstance,
  deps: {
    projects: ProjectService;
    currentUser: (request: FastifyRequest) => Promise<User | null>;
    sessions?: SessionManager;
    /** Every connection is registered here for the user's own events (exports, thumbnails). */
    userSockets?: UserSockets;
    /** Per-connection limits, over {@link DEFAULT_FRAME_LIMITS}. */
    limits?: Partial<FrameLimits>;
  },
) {
  const limits: FrameLimits = { ...DEFAULT_FRAME_LIMITS, maxFrameBytes: MAX_FRAME_BYTES, ...deps.limits };
  app.get('/ws', { websocket: true }, (socket: WebSocket, request) => {
    const user = (request as FastifyRequest & { wsUser?: User }).wsUser!;
    const log = request.log.child({ userId: user.id });
    // Frames are handled one after another, in order (a session:end right behind a
    // session:start must not overtake it), through the connection's bounded, rate-limited queue.
    const connection = guardConnection(socket, {
      limits,
      log,
      handle: (frame) =>
        handleFrame(frame).catch((error: unknown) => {
          log.error({ err: error }, 'websocket handler failed');
          send({ type: 'error', code: 'internal', message: 'Something went wrong on our side.' });
        }),
      onViolation: (reason) => reply({ type: 'error', code: 'rate_limited', message: `Closing this connection: ${reason}.` }),
    });
    /** Frames the client needs (session and user events); one that does not read them is closed. */
    const send = (message: ServerMessage) => connection.send(JSON.stringify(message));
    /** Answers to the client's own frames; dropped while the client is not reading. */
    const reply = (message: ServerMessage) => connection.reply(JSON.stringify(message));
    const client: SessionClient = { userId: user.id, send };
    const unregister = deps.userSockets?.add(user.id, send);
    let closed = false;
    socket.on('close', () => {
      closed = true;
      clearInterval(heartbeat);
      unregister?.();
      deps.sessions?.detach(client);
    });

    // Half-open connections (a laptop lid closed) would keep a session out of grace.
    let alive = true;
    socket.on('pong', () => (alive = true));
    const heartbeat = setInterval(() => {
      // While reading is paused (backpressure), a pong cannot arrive: no verdict then.
      if (!alive && !socket.isPaused) return socket.terminate();
      alive = false;
      socket.ping();
    }, HEARTBEAT_MS);
    heartbeat.unref();

    async function handleFrame({ data, isBinary }: Frame) {
      if (isBinary) {
        return reply({ type: 'error', code: 'invalid_message', message: 'Send JSON text frames.' });
      }
      if (!data) {
        return reply({ type: 'error', code: 'frame_too_large', message: `Frames are limited to ${MAX_FRAME_BYTES} bytes.` });
      }
      // Before parsing: nothing recursive (JSON.parse, the schema) ever walks a frame this deep.
      if (exceedsJsonDepth(data, MAX_JSON_DEPTH)) {
        return reply({ type: 'error', code: 'invalid_message', message: `Frames may nest objects and arrays at most ${MAX_JSON_DEPTH} deep.` });
      }
      let json: unknown;
      try {
        json = JSON.parse(data.toString('utf8'));
      } catch {
        return reply({ type: 'error', code: 'invalid_message', message: 'That frame is not valid JSON.' });
      }
      const parsed = ClientMessage.safeParse(json);
      if (!parsed.success) {
        // Only a string is echoed: anything else could be huge, or throw when made a string.
        const type = typeof json === 'object' && json !== null && 'type' in json ? (json as { type: unknown }).type : undefined;
        return reply({
          type: 'error',
          code: 'invalid_message',
          message: typeof type === 'string' && type ? `That ${JSON.stringify(type.slice(0, 40))} message is not valid.` : 'Every frame needs a known "type".',
        });
      }
      const message = parsed.data;
      deps.sessions?.touch(client);
      switch (message.type) {
        case 'session:start': {
          if (message.protocolVersion !== PROTOCOL_VERSION) {
            const behind = message.protocolVersion < PROTOCOL_VERSION ? 'this page is out of date: reload it' : 'the server is older than this page';
            return send({
              type: 'error',
              code: 'protocol_mismatch',
              message: `Protocol version ${message.protocolVersion} is not supported (${behind}).`,
              serverProtocolVersion: PROTOCOL_VERSION,
            });
          }
          const project = /^[0-9a-f-]{36}$/i.test(message.projectId)
            ? await deps.projects.get(user.id, message.projectId)
            : null;
          if (!project) return send({ type: 'error', code: 'not_found', message: 'That project was not found.' });
          if (!deps.sessions) {
            return send({ type: 'error', code: 'sessions_unavailable', message: 'Live previews are switched off on this server.' });
          }
          // The socket may have closed while the project was looked up: joining now would
          // keep its session out of grace with nobody there.
          if (closed) return;
          try {
            const resume = { lastSeq: message.lastSeq, sessionId: message.sessionId };
            const joined = deps.sessions.attach(client, { id: project.id, ownerId: user.id }, resume);
            log.info({ ...joined, projectId: project.id, lastSeq: message.lastSeq }, 'joined session');
          } catch (error) {
            if (error instanceof AppError) return send({ type: 'error', code: error.code, message: error.message });
            if (!(error instanceof SessionLimitError)) throw error;
            send({ type: 'error', code: 'too_many_sessions', message: error.message });
          }
          return;
        }
        case 'session:end':
          deps.sessions?.detach(client);
          return;
        case 'session:restart':
          if (!deps.sessions?.restart(client)) {
            send({ type: 'error', code: 'no_session', message: 'Open the project first (session:start).' });
          }
          return;
        case 'message:send': {
          if (!deps.sessions) {
            return send({ type: 'error', code: 'sessions_unavailable', message: 'Live sessions are switched off on this server.', clientMessageId: message.clientMessageId });
          }
          try {
            await deps.sessions.sendMessage(client, message);
          } catch (error) {
            if (error instanceof ChatRefusal) {
              send({ type: 'error', code: error.code, message: error.message, clientMessageId: message.clientMessageId });
            } else {
              // The sender gets its text back whatever went wrong.
              log.error({ err: error }, 'message:send failed');
              send({ type: 'error', code: 'internal', message: 'Your message could not be saved. Try again.', clientMessageId: message.clientMessageId });
            }
          }
          return;
        }
        case 'message:cancel':
          // Nothing running (the turn may have just ended): nothing to do.
          deps.sessions?.cancelTurn(client);
          return;
      }
    }
  });

  // Authenticate before the upgrade: an anonymous upgrade is refused with 401.
  app.addHook('preValidation', async (request, reply) => {
    if (request.routeOptions.url !== '/ws') return;
    const user = await deps.currentUser(request);
    if (!user) {
      return reply.status(401).send({ error: { code: 'unauthenticated', message: 'Sign in to continue.' } });
    }
    (request as FastifyRequest & { wsUser?: User }).wsUser = user;
  });
}

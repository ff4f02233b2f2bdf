import { describe, expect, it } from 'vitest';
import { AgentStart, FrameResult, MAX_FRAME_IMAGE_BYTES, RuntimeReady, SandboxToServer, ServerToSandbox } from './sandbox.js';

describe('sandbox messages', () => {
  it('a ready message says where the runtime listens: its sockets, or two loopback ports', () => {
    expect(RuntimeReady.safeParse({ type: 'runtime:ready', listen: { kind: 'unix' }, startupMs: 900 }).success).toBe(true);
    expect(RuntimeReady.safeParse({ type: 'runtime:ready', listen: { kind: 'tcp', previewPort: 4000, bridgePort: 4001, filesPort: 4002 }, startupMs: 900 }).success).toBe(true);
    for (const listen of [{ kind: 'tcp' }, { kind: 'tcp', previewPort: 0, bridgePort: 1 }, { kind: 'unix', socketPath: '/var/run/docker.sock' }, { kind: 'pipe' }]) {
      expect(RuntimeReady.safeParse({ type: 'runtime:ready', listen, startupMs: 1 }).success, JSON.stringify(listen)).toBe(false);
    }
    // The old shape is refused (a runtime older than its server).
    expect(RuntimeReady.safeParse({ type: 'runtime:ready', previewPort: 4000, bridgePort: 4001, startupMs: 1 }).success).toBe(false);
  });

  it('agent:start names the model by URL or by the sandbox\'s socket, with a token path and nothing else', () => {
    const start = (endpoint: unknown) => AgentStart.safeParse({ type: 'agent:start', runner: 'ai-sdk', endpoint }).success;
    const token = 'A'.repeat(32);
    expect(start({ wire: 'anthropic', baseUrl: `http://127.0.0.1:9/m/${token}` })).toBe(true);
    expect(start({ wire: 'openai', socket: true, path: `/m/${token}`, model: 'm' })).toBe(true);
    expect(start({ wire: 'openai', socket: true, path: `/m/${token}/../../x` })).toBe(false);
    expect(start({ wire: 'openai', socket: true, path: 'http://elsewhere/m/x' })).toBe(false);
    expect(start({ wire: 'openai', socket: false, path: `/m/${token}` })).toBe(false);
    expect(start({ wire: 'openai', socket: true, path: `/m/${token}`, socketPath: '/var/run/docker.sock' })).toBe(false);
  });

  it('frame:request and frame:result carry a frame, bounded, and a JPEG no larger than a bridge frame holds', () => {
    const request = (fields: Record<string, unknown>) => SandboxToServer.safeParse({ type: 'frame:request', requestId: 'r1', ...fields }).success;
    expect(request({ frame: 0 })).toBe(true);
    expect(request({ frame: 45, compositionId: 'Probe' })).toBe(true);
    for (const bad of [{ frame: -1 }, { frame: 1.5 }, { frame: '3' }, {}, { frame: 1, compositionId: '' }, { frame: 1, path: '/etc/passwd' }]) {
      expect(request(bad), JSON.stringify(bad)).toBe(false);
    }
    const ok = { type: 'frame:result', requestId: 'r1', ok: true, compositionId: 'Main', frame: 3, width: 16, height: 9, fps: 30, durationInFrames: 90, mediaType: 'image/jpeg' };
    expect(ServerToSandbox.safeParse({ ...ok, data: '/9j/AA==' }).success).toBe(true);
    expect(ServerToSandbox.safeParse({ ...ok, data: 'A'.repeat(Math.ceil(MAX_FRAME_IMAGE_BYTES / 3) * 4 + 4) }).success).toBe(false);
    expect(ServerToSandbox.safeParse({ ...ok, data: 'not base64!' }).success).toBe(false);
    expect(ServerToSandbox.safeParse({ ...ok, mediaType: 'text/html', data: '' }).success).toBe(false);
    expect(FrameResult.safeParse({ type: 'frame:result', requestId: 'r1', ok: false, error: 'No such composition.' }).success).toBe(true);
    expect(FrameResult.safeParse({ type: 'frame:result', requestId: 'r1', ok: false }).success).toBe(false);
  });
});

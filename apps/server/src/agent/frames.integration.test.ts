import { PROTOCOL_VERSION } from '@cutroom/protocol';
import { type ScriptedModelServer, startScriptedModelServer } from '@cutroom/testkit';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git } from '../repos/git.js';
import { sandboxDriversForTests } from '../testing/docker-engine.js';
import { type TestServer, startTestServer } from '../testing/test-server.js';
import { type TestClient, connectClient } from '../testing/ws-client.js';

/** A second composition the agent adds in the turn: red for its first second, blue after. */
const ROOT = `import { AbsoluteFill, Composition, useCurrentFrame } from 'remotion';
import { TitleScene } from './scenes/TitleScene';

const Probe: React.FC = () => {
  const frame = useCurrentFrame();
  return <AbsoluteFill style={{ backgroundColor: frame < 30 ? '#ff0000' : '#0000ff' }} />;
};

export const RemotionRoot: React.FC = () => (
  <>
    <Composition id="TitleScene" component={TitleScene} durationInFrames={150} fps={30} width={1280} height={720} />
    <Composition id="Probe" component={Probe} durationInFrames={60} fps={30} width={1920} height={1080} />
  </>
);
`;

/**
 * The agent sees a frame of its own video, end to end: the real Claude Agent SDK in a real
 * sandbox (each driver; the render itself is walled as the test server sets renders up,
 * by bubblewrap: the docker render wall is render-sandbox's to test) calls view_frame in the middle of a turn; the server takes the working copy as
 * it is then (the edit not yet a version), renders the frame in a render sandbox, and the
 * JPEG reaches the scripted model as an image, which answers only because it came. A frame
 * that cannot be rendered comes back as a reason the agent can act on.
 */
const drivers = await sandboxDriversForTests();

describe.each(drivers)('the agent looks at a frame of its video ($name driver)', ({ environment }) => {
  let model: ScriptedModelServer;
  let server: TestServer;
  let owner: { cookie: string; projectId: string };
  let client: TestClient;

  const run = async (text: string) => {
    client.send({ type: 'message:send', text, clientMessageId: text });
    const saved = await client.next((message) => message.type === 'message:saved' && message.clientMessageId === text);
    const turn = await client.next((message) => message.type === 'agent:turn' && message.userMessageId === saved.message.id);
    const complete = await client.next((message) => message.type === 'agent:complete' && message.turnId === turn.turnId, 180_000);
    const actions = client.messages.filter((m) => m.turnId === turn.turnId && m.type === 'agent:message' && m.event.kind === 'action').map((m) => m.event.action);
    return { complete, actions };
  };

  beforeAll(async () => {
    model = await startScriptedModelServer({
      scenario: {
        rules: [
          {
            match: 'add a probe',
            steps: [
              { tools: [{ tool: 'write', path: 'src/Root.tsx', content: ROOT }] },
              { tools: [{ tool: 'frame', frame: 45, composition: 'Probe' }] },
              { expectImage: true, text: 'Blue at frame 45, as planned.' },
            ],
          },
          { match: 'look at a missing one', steps: [{ tools: [{ tool: 'frame', frame: 0, composition: 'Nope' }] }, { text: 'There is no such composition.' }] },
          { match: 'past the end', steps: [{ tools: [{ tool: 'frame', frame: 60, composition: 'Probe' }] }, { text: 'That frame is past the end.' }] },
        ],
        fallback: [{ text: 'Done.' }],
      },
    });
    server = await startTestServer({
      environment: { ...environment, ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: 'sk-ant-frames' },
      sessions: { graceMs: 1_000, poolSize: 0 },
    });
    owner = await server.signupWithProject('Frames');
    client = await connectClient(server.baseUrl, owner.cookie);
    client.send({ type: 'session:start', projectId: owner.projectId, protocolVersion: PROTOCOL_VERSION });
    await client.next((message) => message.type === 'session:ready');
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
    await model?.close();
  });

  it('renders the working copy mid-turn and shows the model that frame, scaled to at most 1280 pixels', async () => {
    const { complete, actions } = await run('Please add a probe composition and check it');
    expect(complete).toMatchObject({ status: 'done', newVersion: true });
    expect(actions.filter((action) => action.status === 'done').map((action) => [action.tool, action.name])).toEqual([
      ['write', 'Write'],
      ['read', 'view_frame'],
    ]);
    const answered = model.requests.find((request) => request.rule === 'add a probe' && request.step === 2);
    const image = answered?.images.find((seen) => seen.mediaType === 'image/jpeg');
    expect(image).toMatchObject({ valid: true });
    expect(JSON.stringify(answered!.body)).toContain('Frame 45 of \\"Probe\\" (60 frames at 30 fps), shown at 1280×720.');
    // The picture itself: blue (frame 45 is past the red first second), 1920×1080 scaled down.
    const { data, info } = await sharp(image!.data).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([1280, 720]);
    const at = (Math.floor(info.height / 2) * info.width + Math.floor(info.width / 2)) * info.channels;
    const [red, green, blue] = [data[at]!, data[at + 1]!, data[at + 2]!];
    expect(blue).toBeGreaterThan(200);
    expect(red).toBeLessThan(40);
    expect(green).toBeLessThan(40);
    // The turn's own edit became the version as usual; the frame's tree made none.
    const show = await git(['--git-dir', server.repos.repoPath(owner.projectId), 'show', `${complete.version}:src/Root.tsx`]);
    expect(show).toContain('id="Probe"');
    const count = await git(['--git-dir', server.repos.repoPath(owner.projectId), 'rev-list', '--count', 'HEAD']);
    expect(Number(count.trim())).toBe(2);
  });

  it('tells the agent which compositions there are when it names a missing one, and where a composition ends', async () => {
    const missing = await run('Now look at a missing one');
    expect(missing.complete).toMatchObject({ status: 'done', newVersion: false });
    expect(missing.actions.at(-1)).toMatchObject({ name: 'view_frame', status: 'failed' });
    const afterMissing = model.requests.filter((request) => request.rule === 'look at a missing one').at(-1)!;
    expect(JSON.stringify(afterMissing.body)).toContain('There is no composition \\"Nope\\"');
    expect(JSON.stringify(afterMissing.body)).toContain('TitleScene, Probe');

    const past = await run('Look past the end');
    expect(past.actions.at(-1)).toMatchObject({ name: 'view_frame', status: 'failed' });
    const afterPast = model.requests.filter((request) => request.rule === 'past the end').at(-1)!;
    expect(JSON.stringify(afterPast.body)).toContain('Frame 60 is past the end of \\"Probe\\": it has 60 frames (0–59).');
  });
});


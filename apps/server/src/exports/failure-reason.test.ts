import { describe, expect, it } from 'vitest';
import { createUserSockets } from '../ws/user-sockets.js';
import { failureReason, firstLine } from './failure-reason.js';
import { downloadFileName } from './render-paths.js';

describe('failure reasons', () => {
  it('takes the first compile error out of the bundler\'s boxed report, with its place in the project', () => {
    // What `bundle({rspack: true})` throws for `export const X = <div>;` in TitleScene.tsx.
    const message =
      "  × Module build failed (from builtin:swc-loader):\n  ├─▶   ×   x Expected '</', got '<eof>'\n  │     │     ,-[/tmp/job/project/src/scenes/TitleScene.tsx:88:25]\n  │     │  86 |   </AbsoluteFill>\n  │     │  87 | );\n  │     │  88 | export const X = <div>;\n  │     │     `----\n  │     │\n  │   \n  ╰─▶   × Syntax Error\n      \n\nundefined";
    expect(failureReason('bundle', new Error(message), '/tmp/job/project')).toBe(
      "Bundling failed: Expected '</', got '<eof>' (src/scenes/TitleScene.tsx:88:25)",
    );
  });

  it('keeps reasons to one short line without colours', () => {
    expect(firstLine('\u001b[31mError: boom\u001b[39m\n    at somewhere')).toBe('Error: boom');
    expect(failureReason('render', new Error('x'.repeat(1_000))).length).toBeLessThanOrEqual(300);
    expect(failureReason('compositions', 'Failed to launch the browser process!\nmore')).toBe(
      'The project could not be loaded: Failed to launch the browser process!',
    );
  });
});

describe('download file names', () => {
  it('keep the project\'s name without path or quote characters', () => {
    const version = '0123456789abcdef0123456789abcdef01234567';
    expect(downloadFileName('My "best" video: A/B', { version, format: 'mp4', frame: null })).toBe('My -best- video- A-B-0123456.mp4');
    expect(downloadFileName('  ', { version, format: 'png', frame: 12 })).toBe('export-0123456-frame12.png');
    expect(downloadFileName('Видео', { version, format: 'webm', frame: null })).toBe('Видео-0123456.webm');
  });
});

describe('user sockets', () => {
  it('sends a user\'s events to each of their open connections, and to no one else', () => {
    const sockets = createUserSockets();
    const got: string[] = [];
    const offA = sockets.add('ann', (message) => got.push(`a1:${message.type}`));
    sockets.add('ann', (message) => got.push(`a2:${message.type}`));
    sockets.add('bob', (message) => got.push(`b:${message.type}`));
    sockets.send('ann', { type: 'thumbnail:ready', projectId: 'p', thumbnailVersion: 'v' });
    offA();
    sockets.send('ann', { type: 'thumbnail:ready', projectId: 'p', thumbnailVersion: 'v' });
    expect(got).toEqual(['a1:thumbnail:ready', 'a2:thumbnail:ready', 'a2:thumbnail:ready']);
    expect(sockets.count('ann')).toBe(1);
  });
});

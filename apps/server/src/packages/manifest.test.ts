import { describe, expect, it } from 'vitest';
import { PackagesError, REMOTION_VERSION, installManifest } from './manifest.js';

const overridesOf = (manifest: object) => (JSON.parse(installManifest(JSON.stringify(manifest)).text) as { pnpm: { overrides: Record<string, string> } }).pnpm.overrides;
const refusal = (manifest: object) => {
  try {
    installManifest(JSON.stringify(manifest));
  } catch (error) {
    if (error instanceof PackagesError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('not refused');
};

/**
 * A project's overrides of its packages' dependencies reach the install in pnpm's form,
 * validated as its dependencies are: npm's nested `overrides` (with "." and `$name`),
 * pnpm's `pnpm.overrides`, yarn's `resolutions`; nothing but registry versions, and
 * nothing of what Cutroom provides.
 */
describe("a project's overrides", () => {
  it("are passed to pnpm in its own form, Cutroom's Remotion kept last", () => {
    expect(
      overridesOf({
        dependencies: { 'is-odd': '3.0.1', 'lodash.camelcase': '^4.3.0' },
        overrides: { 'is-number': '7.0.0', 'is-odd': { '.': '3.0.1', 'is-number': '6.0.0' }, 'foo@^1': { bar: '$lodash.camelcase' } },
        pnpm: { overrides: { 'a>b': '^2.0.0', 'c@1>d': 'npm:e@1.0.0' } },
        resolutions: { '**/ms': '2.0.0', '@scope/pkg': '~1.2.0' },
      }),
    ).toEqual({
      'is-number': '7.0.0',
      'is-odd': '3.0.1',
      'is-odd>is-number': '6.0.0',
      'foo@^1>bar': '^4.3.0',
      'a>b': '^2.0.0',
      'c@1>d': 'npm:e@1.0.0',
      ms: '2.0.0',
      '@scope/pkg': '~1.2.0',
      remotion: REMOTION_VERSION,
    });
  });

  it('leave out what Cutroom provides, and change nothing for a project without them', () => {
    expect(overridesOf({ dependencies: { ms: '2.0.0' }, overrides: { react: '18.0.0', remotion: '4.0.1', '@remotion/player': '4.0.1', 'some-lib': { react: '18.0.0' } } })).toEqual({ remotion: REMOTION_VERSION });
    expect(installManifest(JSON.stringify({ dependencies: { ms: '2.0.0' } })).key).toBe(installManifest(JSON.stringify({ dependencies: { ms: '2.0.0' }, overrides: {} })).key);
  });

  it('refuse anything that is not a registry version, naming it', () => {
    for (const [manifest, code, text] of [
      [{ overrides: { 'is-number': 'file:../evil' } }, 'package_refused', /"is-number" in overrides .*"file:\.\.\/evil"/],
      [{ overrides: { 'is-odd': { 'is-number': 'git+https://example.com/x.git' } } }, 'package_refused', /is-odd > is-number/],
      [{ pnpm: { overrides: { 'a>b': 'link:/etc' } } }, 'package_refused', /"a > b" in pnpm\.overrides/],
      [{ resolutions: { '**/ms': 'https://example.com/ms.tgz' } }, 'package_refused', /resolutions/],
      [{ overrides: { ms: '$nothing' } }, 'manifest_invalid', /refers to \$nothing, which is not one of its dependencies/],
      [{ overrides: { '../x': '1.0.0' } }, 'manifest_invalid', /not a package name/],
      [{ overrides: { 'ms@file:x': '1.0.0' } }, 'manifest_invalid', /not a package name/],
      [{ overrides: { ms: 1 } }, 'manifest_invalid', /must be a version/],
      [{ overrides: ['ms'] }, 'manifest_invalid', /"overrides" in package\.json must be an object/],
      [{ resolutions: { 'a/b/c': '1.0.0' } }, 'manifest_invalid', /only "name" and "\*\*\/name"/],
      [{ overrides: { '.': '1.0.0' } }, 'manifest_invalid', /overrides nothing/],
      [{ overrides: Object.fromEntries(Array.from({ length: 201 }, (_, index) => [`p${index}`, '1.0.0'])) }, 'manifest_invalid', /more than 200 overrides/],
    ] as const) {
      const refused = refusal(manifest);
      expect(refused.code, JSON.stringify(manifest).slice(0, 80)).toBe(code);
      expect(refused.message).toMatch(text);
    }
  });
});

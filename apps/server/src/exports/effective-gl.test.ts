import { describe, expect, it } from 'vitest';
import { effectiveGl } from './remotion-config.js';

describe('the GL backend a render gets', () => {
  it('is ANGLE on SwiftShader for a GPU backend when there is no GPU, and what the project asked for otherwise', () => {
    for (const asked of ['angle', 'egl', 'vulkan', 'angle-egl'] as const) {
      expect(effectiveGl(asked, false)).toBe('swangle');
      expect(effectiveGl(asked, true)).toBe(asked);
    }
    expect(effectiveGl('swangle', false)).toBe('swangle');
    expect(effectiveGl('swiftshader', false)).toBe('swiftshader');
    expect(effectiveGl(null, false)).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { readTailwindV3Config } from './tailwind-v3-config.js';

const data = { colors: { sky: { 500: '#0ea5e9' }, slate: { 900: '#0f172a' } }, defaultTheme: { fontFamily: { sans: ['ui-sans-serif', 'system-ui'] } } };
const read = (source: string, file = 'tailwind.config.js') => readTailwindV3Config(file, source, data);

/**
 * A Tailwind v3 configuration is read as data, never run: what real ones hold is read
 * (CommonJS, ES modules, TypeScript with `satisfies`, constants, Tailwind's colours and
 * default theme); plugins and presets that are code are left out and named; anything
 * else that is code makes it unreadable, with the reason.
 */
describe('reading a Tailwind v3 configuration without running it', () => {
  it('reads a CommonJS configuration', () => {
    expect(read("/** @type {import('tailwindcss').Config} */\nmodule.exports = { content: ['./src/**/*.{ts,tsx}'], theme: { extend: { colors: { brand: '#0891b2' }, spacing: { '128': '32rem' } } }, plugins: [] };")).toEqual({
      ok: true,
      config: { content: ['./src/**/*.{ts,tsx}'], theme: { extend: { colors: { brand: '#0891b2' }, spacing: { '128': '32rem' } } }, plugins: [] },
      leftOut: [],
    });
  });

  it('reads TypeScript (satisfies, as, type imports) and ES modules with constants', () => {
    const typescript = read(
      "import type { Config } from 'tailwindcss';\nconst brand = '#0891b2' as const;\nexport default { content: [`./src/**/*.tsx`], theme: { extend: { colors: { brand } } } } satisfies Config;",
      'tailwind.config.ts',
    );
    expect(typescript).toEqual({ ok: true, config: { content: ['./src/**/*.tsx'], theme: { extend: { colors: { brand: '#0891b2' } } } }, leftOut: [] });
    const module = read("const config = { content: ['./src/**/*.jsx'], safelist: [{ pattern: /bg-(red|green)-500/ }], darkMode: 'class' };\nexport default config;", 'tailwind.config.mjs');
    expect(module.ok && module.config.safelist).toEqual([{ pattern: /bg-(red|green)-500/ }]);
  });

  it("uses Tailwind's colours and default theme, by require or import, with spreads and member access", () => {
    const result = read(
      "const colors = require('tailwindcss/colors');\nimport defaultTheme from 'tailwindcss/defaultTheme';\nmodule.exports = { content: [], theme: { extend: { colors: { primary: colors.sky[500], ink: colors.slate['900'] }, fontFamily: { sans: ['Inter', ...defaultTheme.fontFamily.sans] } } } };",
    );
    expect(result).toMatchObject({ ok: true, config: { theme: { extend: { colors: { primary: '#0ea5e9', ink: '#0f172a' }, fontFamily: { sans: ['Inter', 'ui-sans-serif', 'system-ui'] } } } } });
  });

  it('leaves out plugins and presets that are code, naming them', () => {
    const result = read("module.exports = { content: [], presets: [require('./brand-preset')], plugins: [require('@tailwindcss/typography'), function ({ addUtilities }) {}] };");
    expect(result).toEqual({
      ok: true,
      config: { content: [], presets: [], plugins: [] },
      leftOut: ['the preset ./brand-preset', 'the plugin @tailwindcss/typography', 'a plugin at line 1'],
    });
  });

  it('refuses what is code anywhere else, saying what and where', () => {
    const cases: [string, RegExp][] = [
      ["module.exports = {\n  theme: { extend: { colors: ({ theme }) => ({ brand: theme('colors.sky.500') }) } },\n};", /computes its configuration \(a function at line 2\)/],
      ["const fs = require('fs');\nmodule.exports = { content: [fs.readFileSync('/etc/passwd', 'utf8')] };", /require\('fs'\) at line 1/],
      ["module.exports = { content: [process.env.HOME] };", /"process", which is not a constant of the file/],
      ["console.log('hi');\nmodule.exports = {};", /a statement at line 1/],
      ["let content = [];\nmodule.exports = { content };", /a let declaration at line 1/],
      ["module.exports = { ['con' + 'tent']: [] };", /a computed key/],
      ["module.exports = { __proto__: { polluted: true } };", /__proto__/],
      ["module.exports = { get content() { return []; } };", /a method or accessor/],
      ["import plugin from 'tailwindcss/plugin';\nexport default { plugins: [] };", /an import of tailwindcss\/plugin/],
      ["module.exports = { content: [`./${'src'}/*.tsx`] };", /a template with expressions/],
      ['module.exports = [];', /exports no configuration object/],
      ['module.exports = {', /does not parse/],
    ];
    for (const [source, reason] of cases) {
      const result = read(source);
      expect(result.ok, source).toBe(false);
      expect(!result.ok && result.reason, source).toMatch(reason);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

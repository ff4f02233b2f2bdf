import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'test-results/**', 'data/**', 'bench/.work/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': ['error', { allow: ['warn', 'error'] }],
      // ES modules have no CommonJS globals: a variable by these names that is not declared
      // (say `exports` where `deps.exports` was meant) is undefined at run time, yet typechecks.
      'no-restricted-globals': ['error', 'exports', 'module', '__dirname', '__filename'],
    },
  },
  {
    files: ['**/*.test.ts', 'e2e/**', 'security/**', '**/testing/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', 'no-console': 'off' },
  },
  {
    files: ['scripts/**', 'bench/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // Remotion projects' configuration runs as CommonJS (Remotion compiles it so), as does a
    // Tailwind v3 configuration in a project without `"type": "module"`.
    files: ['packages/testkit/projects/**/remotion.config.*', 'packages/testkit/projects/**/tailwind.config.*'],
    rules: { 'no-restricted-globals': 'off' },
  },
  {
    files: ['apps/web/src/**/*.tsx', 'apps/web/src/**/*.ts', 'packages/template/project/**', 'packages/template/preview/**', 'packages/testkit/projects/**'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: { ...reactHooks.configs.recommended.rules },
  },
);

import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/fixtures/generated/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // A module is used through its index.ts (docs/architecture.md): no import reaches
    // into another module's files. Inside a module, files import each other directly.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          regex: '^(\\.\\./)+(call|capture|cluster|config|dashboard|metrics|pipeline|rest|rtmp|rtp|shared|sip|transcode|webhook)/(?!index\\.js$)',
          message: 'import another module through its index.js',
        }, {
          regex: '^\\./(call|capture|cluster|config|dashboard|metrics|pipeline|rest|rtmp|rtp|shared|sip|transcode|webhook)/(?!index\\.js$)',
          message: 'import a module through its index.js',
        }],
      }],
    },
  },
  {
    // Tests read JSON bodies of peers and the gateway: `any` is the honest type there.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);

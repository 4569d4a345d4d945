// ESLint for the whole tree: typescript-eslint's recommended rules plus a few that need type information
// (see DEVELOPERS.md, "Lint"). Layering is checked by dependency-cruiser (.dependency-cruiser.cjs), dead code by knip.
import './scripts/lint/typescript-5.mjs';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';

export default tseslint.config(
  { ignores: ['dist/**', 'release/**', 'node_modules/**', 'test-results/**', 'bench-results/**', 'chaos-results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node, ...globals.browser },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A switch over a union names every member; an unhandled one is a type error through missingCaseError.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false }],
      // A promise nobody awaits loses its rejection (an unhandled rejection stops a replica).
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // The wire types and the client library run in the browser, the CLI and the replica: neither Node's globals nor
    // the DOM's (dependency-cruiser checks their imports; this checks the globals an import would not show).
    files: ['replica/protocol/**', 'replica/client/**', 'replica/util/**'],
    rules: {
      'no-restricted-globals': [
        'error',
        ...['process', 'Buffer', 'require', '__dirname', '__filename', 'global', 'setImmediate'].map((name) => ({ name, message: 'Node-only: replica/protocol, replica/client and replica/util are isomorphic' })),
        ...['window', 'document', 'navigator', 'localStorage', 'sessionStorage', 'location'].map((name) => ({ name, message: 'DOM-only: replica/protocol, replica/client and replica/util are isomorphic' })),
      ],
    },
  },
  {
    // Tests read arbitrary frames and results from the wire and poke at them; `any` there is the honest type.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['renderer/**/*.tsx', 'renderer/**/*.ts'],
    plugins: { 'react-hooks': reactHooks },
    rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'error' },
  },
  {
    // Plain JavaScript (build scripts, tool configs) is outside tsconfig.json: checked without type information.
    files: ['**/*.{js,mjs,cjs}'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);

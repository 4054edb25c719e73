// `npm run lint`: typescript-eslint with type information (the project service reads tsconfig.json,
// which includes src/, test/ and scripts/). Only TypeScript is linted; build output and the
// stack's and bench's working directories are ignored.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const nodeTestCalls = ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'];

export default defineConfig(
  {
    ignores: ['dist/', 'node_modules/', '.stack/', '.bench/', 'coverage/', '**/*.js', '**/*.mjs', '**/*.cjs'],
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: nodeTestCalls }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // The project's convention for a name that is there on purpose but unused: a leading underscore
      // (an interface's parameter, a field left out of a rest object).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // The code base matches control characters on purpose (ANSI escapes in CLI output, the
      // characters XML 1.0 forbids in JUnit reports); every finding of this rule was one of those.
      'no-control-regex': 'off',
    },
  },
  {
    // Fakes, stubs and callbacks in the tests implement Promise-returning interfaces (Source,
    // InvalidationSink, kafkajs' eachMessage, a cache loader). `async` is what makes them behave like
    // the real implementations (a throw becomes a rejection), so an async body without `await` is
    // intended there. In src/ and scripts/ the rule stays on.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/require-await': 'off',
    },
  },
);

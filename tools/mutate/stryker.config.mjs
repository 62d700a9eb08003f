// Mutation testing of the training engines, the metrics and the diagnosis: `npm run mutate`.
// Stryker mutates the TypeScript, builds it with the project's tsc, and runs the node:test files
// that exercise those modules (TAP output), each mutant against the tests that cover it.
export default {
  packageManager: 'npm',
  testRunner: 'tap',
  plugins: ['@stryker-mutator/tap-runner', '@stryker-mutator/typescript-checker'],
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: [
    'src/training/fused/*.ts',
    'src/training/fused/wasm/directions.ts',
    'src/training/fused/wasm/thread.ts',
    'src/training/train.ts',
    'src/config/constants.ts',
    'src/task/metrics.ts',
    'src/diagnosis/diagnosis.ts',
    'src/model/slice-kernels.ts',
  ],
  // The build runs before Stryker links node_modules into its sandbox (.stryker-tmp/sandbox-*/).
  buildCommand: 'node ../../node_modules/typescript/bin/tsc -p .',
  tap: {
    // The fast, killing files: one-step parity at 1e-6, gradients, metrics, the diagnosis checks,
    // and the training loop's own tests (train: batches, clipping, abort, leaks; fused-training:
    // whole runs of the fused engine against tf.layers, which is what kills the loop's data copying;
    // wasm: the float32 engine's kernels, threads and choice; resume: the optimizers' state saved and restored;
    // slice-kernels: the cpu and wasm backends' Slice and SplitV against tfjs's own; fused-tagger: the
    // text tagger's batches, gradients, clipping and inference against tf.layers, packed rows against
    // padded; corpus: the corpus's packed rows, views and memory counts).
    testFiles: [
      'dist/test/{corpus,fused,fused-tagger,head,engine-units,remedy-steps,remedies,metrics,diagnosis,diagnosis-checks,train,fused-training,wasm,resume,slice-kernels}.test.js',
    ],
    nodeArgs: ['--test-reporter=tap', '--import', '{{hookFile}}', '{{testFile}}'],
    forceBail: true,
  },
  // Only the project's own sources get Stryker's `// @ts-nocheck` (test/wasm.test.ts hashes the AssemblyScript source).
  disableTypeChecks: '{src,test}/**/*.{js,ts}',
  coverageAnalysis: 'perTest',
  ignorePatterns: ['tools/lint', 'tools/mutate', 'tools/wasm/node_modules', 'dist', '.venv-*', 'reports', 'sweep-results', 'seq-tag-model', 'docs', 'bench'],
  thresholds: { high: 90, low: 85, break: 85 },
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  // Stryker splits this between TypeScript checkers and test runners: 2 + 2 on a 2-core machine
  // (the checkers are idle once the mutants are type-checked).
  concurrency: 4,
  // A mutant that breaks the helper thread's handshake waits forever: 8 s beyond a test's own time
  // calls it a timeout (detected) and keeps a sitting of the float32 engine under an hour here.
  timeoutMS: 8_000,
  tempDirName: '.stryker-tmp',
};

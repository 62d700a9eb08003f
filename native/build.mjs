#!/usr/bin/env node
// Builds the native kernels (native/kernels.cc) for this machine at `npm install`. They are optional:
// without a C++ compiler (or node-gyp, or Node's headers) this says so in one line and exits 0, and
// seq-tag runs its WebAssembly kernels. `--require` (npm run build:native, and CI) fails instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const required = process.argv.includes('--require') || process.env.SEQ_TAG_REQUIRE_NATIVE === '1';

/** npm hands its own node-gyp to install scripts (npm_config_node_gyp); else one on the PATH, else npm's. */
function nodeGyp() {
  const candidates = [process.env.npm_config_node_gyp, join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js')];
  for (const file of candidates) if (file && existsSync(file)) return [process.execPath, file];
  try {
    return [process.execPath, createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js')];
  } catch {
    return ['node-gyp'];
  }
}

const [command, ...first] = nodeGyp();
const args = [...first, 'rebuild', '--directory', here];
// Node's own headers where the machine has them (a Debian or distribution Node); else node-gyp downloads them.
if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node.h') && process.execPath.startsWith('/usr/bin/')) args.push('--nodedir=/usr');
const run = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (run.status === 0) {
  console.log('seq-tag: native kernels built (native/build/Release/seqtag_kernels.node)');
} else {
  const why = run.error
    ? run.error.message
    : `${
        (run.stderr || run.stdout || '')
          .trim()
          .split('\n')
          .filter((l) => /error/i.test(l))[0] ?? `node-gyp exited with ${run.status}`
      }`;
  const line = `seq-tag: native kernels not built (${why.trim().slice(0, 160)}); the WebAssembly kernels run instead`;
  if (required) {
    console.error(line);
    console.error(run.stderr);
    process.exit(1);
  }
  console.log(line);
}

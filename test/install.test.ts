/**
 * Installed from anywhere: the packed tarball, installed into a temporary prefix as `npm install -g`
 * would, puts `seq-tag` on the PATH, and it trains, predicts and diagnoses from a folder that is not
 * the clone; a project that depends on it imports the API by name.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { tempDir } from './helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, status = 0): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 300_000 });
  assert.equal(result.status, status, `${command} ${args.join(' ')} in ${cwd}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

describe('installed from a packed tarball', () => {
  it('runs train, predict and doctor from another folder, and its API imports by name', () => {
    const root = tempDir('seq-tag-install-');
    // The build is the one the tests run from: packing must not rebuild it.
    run(NPM, ['pack', '--ignore-scripts', '--pack-destination', root], ROOT);
    const tarball = readdirSync(root).find((f) => f.endsWith('.tgz'))!;
    const prefix = join(root, 'prefix');
    run(NPM, ['install', '-g', '--prefix', prefix, join(root, tarball), '--no-audit', '--no-fund', '--prefer-offline'], root);
    const installed = join(prefix, 'lib', 'node_modules', 'seq-tag');
    assert.ok(existsSync(join(installed, 'dist', 'src', 'index.d.ts')), 'the type declarations ship');
    assert.ok(existsSync(join(installed, 'schemas', 'train.schema.json')), 'the JSON Schemas ship');
    assert.ok(!existsSync(join(installed, 'dist', 'test')), 'the tests do not');
    // The native kernels' sources ship and npm's install script builds them (where CI requires it, it must).
    assert.ok(
      ['binding.gyp', 'kernels.cc', 'build.mjs'].every((f) => existsSync(join(installed, 'native', f))),
      'the native sources ship',
    );
    if (process.env.SEQ_TAG_REQUIRE_NATIVE === '1')
      assert.ok(existsSync(join(installed, 'native', 'build', 'Release', 'seqtag_kernels.node')), 'the install built the native kernels');

    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere);
    const env = { PATH: `${join(prefix, 'bin')}${delimiter}${process.env.PATH}` };
    const which = run('sh', ['-c', 'command -v seq-tag'], elsewhere, env).stdout.trim();
    assert.equal(which, join(prefix, 'bin', 'seq-tag'));
    const trained = run('seq-tag', ['train', '--epochs', '2', '--samples', '100', '--seed', '1', '--model-dir', 'm'], elsewhere, env);
    assert.match(trained.stdout, /saved to m/);
    assert.match(run('seq-tag', ['predict', '--model', 'm', '--digits', '4028561337'], elsewhere, env).stdout, /^digits +4 +0 +2 +8/m);
    // Two epochs on 100 sequences learn nothing yet: the doctor says so (exit 3), as it must of any model at the floor.
    assert.match(run('seq-tag', ['doctor', '--model', 'm'], elsewhere, env, 3).stdout, /✓ saved weights are finite[\s\S]*✗ loss vs the no-skill floor/);

    // A project that depends on seq-tag (linked as npm links a local dependency) imports it by name.
    const project = join(root, 'project');
    mkdirSync(join(project, 'node_modules'), { recursive: true });
    symlinkSync(installed, join(project, 'node_modules', 'seq-tag'));
    writeFileSync(
      join(project, 'use.mjs'),
      "import { loadModel, predict } from 'seq-tag';\nconst m = await loadModel(process.argv[2]);\nconsole.log(predict(m, ['4028561337'])[0].digits.join(''));\n",
    );
    assert.equal(run(process.execPath, ['use.mjs', join(elsewhere, 'm')], project).stdout.trim(), '4028561337');
  });
});

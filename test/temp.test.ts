import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const TEMP = fileURLToPath(new URL('./temp.js', import.meta.url));
/** A Node program that makes a test folder with a file in it, prints its path, then waits or exits (process.exit: no 'beforeExit'). */
const program = (wait: boolean) =>
  `const { tempDir } = await import(${JSON.stringify(TEMP)}); const d = tempDir(); ` +
  `(await import('node:fs')).writeFileSync(d + '/f', 'x'); console.log(d); ${wait ? 'setInterval(() => {}, 1000);' : 'process.exit(0);'}`;

describe('test folders (tempDir)', () => {
  it('are removed when the process ends, and kept with SEQ_TAG_KEEP_TEST_DIRS=1', () => {
    const ended = spawnSync(process.execPath, ['--input-type=module', '-e', program(false)], { encoding: 'utf8' });
    assert.equal(ended.status, 0, ended.stderr);
    assert.equal(existsSync(ended.stdout.trim()), false);
    const kept = spawnSync(process.execPath, ['--input-type=module', '-e', program(false)], {
      encoding: 'utf8',
      env: { ...process.env, SEQ_TAG_KEEP_TEST_DIRS: '1' },
    });
    assert.equal(existsSync(kept.stdout.trim()), true);
    rmSync(kept.stdout.trim(), { recursive: true });
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`are removed when the process is stopped by ${signal}, which still ends it`, async () => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', program(true)]);
      const dir = await new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())));
      assert.equal(existsSync(dir), true);
      child.kill(signal);
      const [, ended] = (await new Promise((resolve) => child.once('exit', (...result) => resolve(result)))) as [number | null, string | null];
      assert.equal(ended, signal);
      assert.equal(existsSync(dir), false);
    });
  }
});

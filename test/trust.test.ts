/**
 * Issue #18 without Redis: sweep folders that are someone else's, locks of dead and paused
 * processes, fencing, leftovers and look-alikes, the grid's meaning, signals, exit codes.
 * Real processes and real signals throughout.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HOST, ownerTag } from '../src/storage/owner.js';
import { folderSnapshot, seqTag, startSeqTag, tempDir } from './helpers.js';
import { until } from './redis.js';

/** A pid that ran on this host and is gone: what a crashed seq-tag leaves in its lock and file names. */
function deadPid(): number {
  const run = spawnSync('sh', ['-c', 'echo $$']);
  return Number(String(run.stdout).trim());
}
const deadTag = () => `${HOST}.${deadPid()}.12345`;

const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n');
const SMALL = ['--samples', '32', '--epochs', '1', '--backend', 'cpu'];
/** Runs of about a second each, so a test can act between them. */
const SLOW = ['--grid', 'units=8,9,10,11,12,13', '--seeds', '1', '--samples', '10000', '--epochs', '4', '--jobs', '1', '--backend', 'cpu'];

describe('sweep --out: only new, empty, or the same sweep', () => {
  it("refuses a folder holding another tool's results.jsonl, summary.json and loss-curves.svg, and changes nothing in it", async () => {
    const out = tempDir();
    writeFileSync(join(out, 'results.jsonl'), '{"epoch": 1, "acc": 0.5}\n{"epoch": 2, "acc": 0.6}');
    writeFileSync(join(out, 'summary.json'), '{"mine": true}');
    writeFileSync(join(out, 'loss-curves.svg'), '<svg/>');
    const before = folderSnapshot(out);
    const run = await seqTag(['sweep', '--grid', 'activation=softmax', '--seeds', '1', ...SMALL, '--out', out]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^seq-tag: --out .* holds files no seq-tag sweep wrote: .*results\.jsonl.*without sweep\.json.*choose a new or empty folder\n$/);
    assert.deepEqual(folderSnapshot(out), before);
  });

  it('refuses another grid in the same folder, naming the difference; the same grid (axes in another order too) resumes', async () => {
    const out = join(tempDir(), 's');
    const first = await seqTag(['sweep', '--grid', 'activation=softmax,linear', '--seeds', '1', ...SMALL, '--out', out]);
    assert.equal(first.status, 0, first.stderr);
    const before = folderSnapshot(out);
    const other = await seqTag(['sweep', '--grid', 'activation=softmax,linear', '--seeds', '1', ...SMALL, '--epochs', '2', '--out', out]);
    assert.equal(other.status, 1);
    assert.match(
      other.stderr,
      /^seq-tag: --out .* holds another sweep: 'activation=softmax' has epochs 1 there and 2 here; choose another --out, or resume it with the grid it was made with\n$/,
    );
    const more = await seqTag(['sweep', '--grid', 'activation=softmax,linear,relu', '--seeds', '1', ...SMALL, '--out', out]);
    assert.match(more.stderr, /holds another sweep: this grid has 'activation=relu', which that sweep does not/);
    assert.deepEqual(folderSnapshot(out), before, 'refusals change nothing');
    const again = await seqTag(['sweep', '--grid', 'activation=softmax,linear', '--seeds', '1', ...SMALL, '--out', out]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(lines(join(out, 'results.jsonl')).length, 2, 'resumed: nothing ran twice');
  });

  it('a bad line is reported with its line number, moved aside, and its run done again; the rerun does not hang', async () => {
    const out = join(tempDir(), 's');
    const args = ['sweep', '--grid', 'activation=softmax,linear', '--seeds', '2', ...SMALL, '--out', out];
    assert.equal((await seqTag(args)).status, 0);
    const file = join(out, 'results.jsonl');
    const [a, b, c, d] = lines(file);
    writeFileSync(file, `${a}\n${JSON.stringify({ key: JSON.parse(b).key })}\n${c}\n${d}\n`);
    const started = Date.now();
    const run = await seqTag([...args, '--json']);
    assert.equal(run.status, 0, run.stderr);
    assert.ok(Date.now() - started < 30_000);
    assert.match(
      run.stderr,
      /^seq-tag: line 2 of .*results\.jsonl is not a whole run record \(status: .*\); moved to .*results\.rejected\.jsonl, and its run is done again\n$/,
    );
    assert.equal(lines(file).length, 4);
    assert.equal(JSON.parse(run.stdout).configurations[0].runs, 2);
  });
});

describe('locks: a dead holder loses it at once, a paused one keeps it, a lost one stops writing', () => {
  it('a lock left by a crashed process (its pid gone) is taken over at once', async () => {
    const dir = join(tempDir(), 'm');
    mkdirSync(dir);
    writeFileSync(join(dir, '.seq-tag.lock'), JSON.stringify({ host: HOST, pid: deadPid(), start: '1', token: 'x', name: 'seq-tag', since: '' }));
    const run = await seqTag(['train', ...SMALL, '--seed', '1', '--model-dir', dir]);
    assert.equal(run.status, 0, run.stderr);
    assert.ok(!existsSync(join(dir, '.seq-tag.lock')), 'released');
  });

  it('train SIGKILLed mid-run: the next train starts at once', async () => {
    const dir = join(tempDir(), 'm');
    const first = startSeqTag(['train', '--samples', '20000', '--epochs', '50', '--backend', 'cpu', '--seed', '1', '--model-dir', dir]);
    await until('training to start', () => /epoch\s+1/.test(first.out()), 60);
    first.child.kill('SIGKILL');
    await first.exited;
    assert.ok(existsSync(join(dir, '.seq-tag.lock')), 'the killed process left its lock');
    const t0 = Date.now();
    // The killed run may have left the checkpoint of its epoch 1: a new run replaces it only when asked.
    const run = await seqTag(['train', ...SMALL, '--seed', '1', '--model-dir', dir, '--restart']);
    assert.equal(run.status, 0, run.stderr);
    assert.ok(Date.now() - t0 < 15_000);
  });

  it('a sweep paused (SIGSTOP) past any lock lifetime keeps its folder: a second sweep is refused', async () => {
    const out = join(tempDir(), 's');
    const first = startSeqTag(['sweep', ...SLOW, '--out', out]);
    try {
      await until('a run recorded', () => /\[1\/6\]/.test(first.out()), 60);
      first.child.kill('SIGSTOP');
      const old = new Date(Date.now() - 600_000);
      utimesSync(join(out, '.seq-tag.lock'), old, old); // as if it had not refreshed it for ten minutes
      const second = await seqTag(['sweep', ...SLOW, '--out', out]);
      assert.equal(second.status, 1);
      assert.match(
        second.stderr,
        new RegExp(`^seq-tag: another seq-tag \\(pid ${first.child.pid}\\) is writing to .*; wait for it to finish or choose another --out\\n$`),
      );
    } finally {
      first.child.kill('SIGCONT');
    }
    assert.equal(await first.exited, 0, first.out());
    const keys = lines(join(out, 'results.jsonl')).map((l) => JSON.parse(l).key);
    assert.equal(keys.length, 6);
    assert.equal(new Set(keys).size, 6, 'every run once');
  });

  it('fencing: a sweep whose lock was taken over while it was stopped writes nothing more and says so', async () => {
    const out = join(tempDir(), 's');
    const first = startSeqTag(['sweep', ...SLOW, '--out', out]);
    await until('a run recorded', () => /\[1\/6\]/.test(first.out()), 60);
    first.child.kill('SIGSTOP');
    // Another host's seq-tag judged it dead and took the folder over (a shared file system).
    writeFileSync(join(out, '.seq-tag.lock'), JSON.stringify({ host: 'ffffff', pid: 1, start: '1', token: 'someone-else', name: 'seq-tag', since: '' }));
    const kept = lines(join(out, 'results.jsonl')).length;
    first.child.kill('SIGCONT');
    assert.equal(await first.exited, 1, first.out());
    assert.match(first.out(), /seq-tag: lost the lock on .*: another seq-tag took it over while this one was stopped; this one writes nothing more there\n$/);
    assert.ok(lines(join(out, 'results.jsonl')).length <= kept + 1, 'at most the record whose write was checked before the takeover');
    assert.match(readFileSync(join(out, '.seq-tag.lock'), 'utf8'), /someone-else/, "the new holder's lock is left alone");
  });
});

describe("leftovers: a crashed seq-tag's own files are removed, a user's look-alikes never", () => {
  it("retrain removes a crashed save's temporary files and weights, keeps weights-deadbeef.bin and .model.json.tmp-mine", async () => {
    const dir = join(tempDir(), 'm');
    assert.equal((await seqTag(['train', ...SMALL, '--seed', '1', '--model-dir', dir])).status, 0);
    const tag = deadTag();
    const crashed = [`.model.json.tmp-${tag}-0badc0de`, `weights-${tag}-0badc0de.bin`];
    const users = ['weights-deadbeef.bin', '.model.json.tmp-mine', `weights-${tag}.bin`];
    for (const name of [...crashed, ...users]) writeFileSync(join(dir, name), 'x');
    const run = await seqTag(['train', ...SMALL, '--seed', '2', '--model-dir', dir]);
    assert.equal(run.status, 0, run.stderr);
    const left = readdirSync(dir);
    for (const name of crashed) assert.ok(!left.includes(name), `${name} removed`);
    for (const name of users) assert.ok(left.includes(name), `${name} kept`);
  });

  it("export and sweep remove their crashed predecessors' temporary files and folders; a live process's and a user's stay", async () => {
    const root = tempDir();
    const model = join(root, 'm');
    assert.equal((await seqTag(['train', ...SMALL, '--seed', '1', '--model-dir', model])).status, 0);
    const tag = deadTag();
    const live = ownerTag(); // this test process: alive
    writeFileSync(join(root, `.model.keras.tmp-${tag}-0badc0de`), 'half');
    writeFileSync(join(root, `.model.keras.tmp-mine`), 'user');
    mkdirSync(join(root, `.tfjs.tmp-${tag}-0badc0de`));
    writeFileSync(join(root, `.tfjs.tmp-${tag}-0badc0de`, 'model.json'), '{');
    assert.equal((await seqTag(['export', '--model', model, '--to', join(root, 'model.keras')])).status, 0);
    assert.equal((await seqTag(['export', '--model', model, '--to', join(root, 'tfjs')])).status, 0);
    const left = readdirSync(root);
    assert.ok(!left.includes(`.model.keras.tmp-${tag}-0badc0de`));
    assert.ok(!left.includes(`.tfjs.tmp-${tag}-0badc0de`));
    assert.ok(left.includes('.model.keras.tmp-mine'));

    const out = join(root, 's');
    assert.equal((await seqTag(['sweep', '--grid', 'activation=softmax', '--seeds', '1', ...SMALL, '--out', out])).status, 0);
    writeFileSync(join(out, `.summary.json.tmp-${tag}-0badc0de`), 'half');
    writeFileSync(join(out, `.loss-curves.svg.tmp-${live}-0badc0de`), 'being written by a live process');
    assert.equal((await seqTag(['sweep', '--grid', 'activation=softmax', '--seeds', '1', ...SMALL, '--out', out])).status, 0);
    const swept = readdirSync(out);
    assert.ok(!swept.includes(`.summary.json.tmp-${tag}-0badc0de`));
    assert.ok(swept.includes(`.loss-curves.svg.tmp-${live}-0badc0de`));
  });
});

describe('the grid means what it says', () => {
  it('no-… names are refused with the positive spelling; equal configurations run once and are reported; a newline stays one line', async () => {
    const out = join(tempDir(), 'never');
    const neg = await seqTag(['sweep', '--grid', 'no-bidirectional=on', '--out', out]);
    assert.equal(neg.status, 2);
    assert.match(
      neg.stderr,
      /^seq-tag: --grid no-bidirectional=on: a grid names switches by their positive name, with on\/off values; use --grid bidirectional=off\n$/,
    );
    assert.match((await seqTag(['sweep', '--grid', 'no-nan-guard=on,off', '--out', out])).stderr, /use --grid nan-guard=off,on/);
    const nl = await seqTag(['sweep', '--grid', 'activation=soft\nmax', '--out', out]);
    assert.equal(nl.status, 2);
    assert.equal(nl.stderr.split('\n').length, 2, 'one line');
    assert.match(nl.stderr, /soft\\nmax/);
    assert.ok(!existsSync(out));

    const merged = await seqTag(['sweep', '--grid', 'preset=seed,original', '--seeds', '1', ...SMALL, '--out', join(tempDir(), 's'), '--json']);
    assert.equal(merged.status, 0, merged.stderr);
    assert.match(merged.stderr, /^seq-tag: 'preset=original' is the same configuration as 'preset=seed': run once, as 'preset=seed'\n$/);
    const doc = JSON.parse(merged.stdout);
    assert.deepEqual(
      doc.configurations.map((c: { label: string }) => c.label),
      ['preset=seed'],
    );
    const bi = await seqTag(['sweep', '--grid', 'bidirectional=off,on', '--seeds', '1', ...SMALL, '--out', join(tempDir(), 's'), '--json']);
    assert.deepEqual(
      JSON.parse(bi.stdout).configurations.map((c: { label: string; config: { bidirectional: boolean } }) => [c.label, c.config.bidirectional]),
      [
        ['bidirectional=off', false],
        ['bidirectional=on', true],
      ],
    );
  });
});

describe('SIGTERM and SIGHUP behave like Ctrl-C', () => {
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    it(`train: ${signal} saves the last completed epoch, says so, exits ${code}, leaves no lock`, async () => {
      const dir = join(tempDir(), 'm');
      const run = startSeqTag(['train', '--samples', '4000', '--epochs', '200', '--backend', 'cpu', '--seed', '1', '--model-dir', dir]);
      await until('two epochs', () => /epoch\s+2\//.test(run.out()), 60);
      run.child.kill(signal);
      assert.equal(await run.exited, code, run.out());
      assert.match(run.out(), new RegExp(`${signal}: stopping after this batch to save the last completed epoch`));
      assert.match(run.out(), new RegExp(`${signal}: interrupted at epoch \\d+ of 200: saved the model of epoch \\d+ to`));
      const record = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).userDefinedMetadata;
      assert.equal(record.interrupted.epochs, 200);
      assert.ok(!existsSync(join(dir, '.seq-tag.lock')));
    });
  }

  it('sweep: SIGTERM stops the workers, says how to resume, exits 143; the same command finishes the rest', async () => {
    const out = join(tempDir(), 's');
    const run = startSeqTag(['sweep', ...SLOW, '--out', out]);
    await until('a run recorded', () => /\[1\/6\]/.test(run.out()), 60);
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 143, run.out());
    assert.match(run.out(), /SIGTERM: interrupted: \d of 6 runs kept in .*results\.jsonl; run the same command to resume\n$/);
    assert.ok(!existsSync(join(out, '.seq-tag.lock')));
    const rest = await seqTag(['sweep', ...SLOW, '--out', out]);
    assert.equal(rest.status, 0, rest.stderr);
    assert.equal(lines(join(out, 'results.jsonl')).length, 6);
  });
});

describe('exit codes and numbers', () => {
  it('bad command lines exit 2 in one line; number flags take decimal notation only, in our words', async () => {
    for (const [args, pattern] of [
      [['train', '--lr', '0x10'], /'0x10' is invalid\. expected a number greater than 0, in decimal notation/],
      [['train', '--clipnorm', '0b1'], /in decimal notation/],
      [['train', '--lr', 'abc'], /'abc' is invalid\. expected a number greater than 0, in decimal notation/],
      [['sweep', '--grid', 'lr=0o7', '--out', join(tempDir(), 'x')], /'0o7' is invalid for --lr: expected a number greater than 0, in decimal notation/],
      [['sweep', '--grid', 'lr=0.1', '--queue', 'http://x', '--out', join(tempDir(), 'x')], /--queue http:\/\/x: expected a redis:\/\/ or rediss:\/\/ URL/],
      [['export', '--model', tempDir(), '--to', ' '], /--to is empty; give a file name ending in \.keras or \.h5, or a new folder/],
    ] as const) {
      const run = await seqTag([...args]);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, pattern);
      assert.equal(run.stderr.trim().split('\n').length, 1);
      assert.doesNotMatch(run.stderr, /received NaN|expected number/);
    }
    assert.equal((await seqTag(['train', ...SMALL, '--lr', '1e-3', '--model-dir', join(tempDir(), 'm')])).status, 0, 'exponents are decimal notation');
  });
});

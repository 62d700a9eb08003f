/**
 * What seq-tag promises about the user's files and work (README "What seq-tag promises about your
 * files"), checked on the real binary: foreign folders, pipes that close, Ctrl-C, full disks,
 * two writers, symlinks, unusable paths, broken models, and the wording around them.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { readCheckpointIn } from '../src/model/store.js';
import { bash, folderSnapshot, oneLine, seqTag, SEQ_TAG_COMMAND, tempDir } from './helpers.js';

const TINY = ['--samples', '64', '--epochs', '2', '--seed', '5', '--backend', 'cpu'];
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/keras/', import.meta.url));
/** Slow enough to interrupt: one 0.1–0.3 s batch per epoch, a thousand epochs. */
const LONG = ['--samples', '256', '--batch-size', '256', '--units', '96', '--epochs', '1000', '--seed', '3', '--backend', 'cpu'];

/** A running seq-tag whose output is collected, and a way to wait for a line of it. */
function start(args: string[]): {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  waitFor: (re: RegExp) => Promise<void>;
  done: Promise<number | null>;
} {
  const [node, bin] = SEQ_TAG_COMMAND;
  const child = spawn(node, [bin, ...args], { env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (re.test(stdout) || re.test(stderr)) {
          clearInterval(timer);
          resolve();
        } else if (child.exitCode !== null) {
          clearInterval(timer);
          reject(new Error(`exited ${child.exitCode} before ${re}: ${stdout}\n${stderr}`));
        }
      }, 20);
    });
  return { child, out: () => stdout, err: () => stderr, waitFor, done };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('never deletes what it did not write', () => {
  it("a folder with someone else's model.json, notes and sources is refused and left as it was, also as --model-dir .", async () => {
    const project = tempDir();
    mkdirSync(join(project, 'src'));
    writeFileSync(join(project, 'src', 'main.py'), 'print(1)');
    writeFileSync(join(project, 'model.json'), '{}');
    writeFileSync(join(project, 'notes.txt'), 'x');
    const before = folderSnapshot(project);
    oneLine(await seqTag(['train', ...TINY, '--model-dir', project]), 1, /holds a model\.json that seq-tag did not write; seq-tag will not touch it/);
    const here = bash(`cd '${project}' && seq-tag train ${TINY.join(' ')} --model-dir .`);
    oneLine(here, 1, /--model-dir \. holds a model\.json that seq-tag did not write/);
    assert.deepEqual(folderSnapshot(project), before);
  });

  it("retraining a seq-tag model folder keeps the user's own files in it", async () => {
    const dir = join(tempDir(), 'model');
    assert.equal((await seqTag(['train', ...TINY, '--model-dir', dir])).status, 0);
    writeFileSync(join(dir, 'NOTES.md'), 'what I tried');
    const again = await seqTag(['train', ...TINY, '--seed', '6', '--model-dir', dir]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(readFileSync(join(dir, 'NOTES.md'), 'utf8'), 'what I tried');
    assert.equal(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).userDefinedMetadata.config.seed, 6);
  });

  it('a symlinked --model-dir stays a symlink; the model goes where it points', async () => {
    const root = tempDir();
    const real = join(root, 'real');
    mkdirSync(real);
    symlinkSync(real, join(root, 'link'));
    assert.equal((await seqTag(['train', ...TINY, '--model-dir', join(root, 'link')])).status, 0);
    assert.ok(lstatSync(join(root, 'link')).isSymbolicLink());
    assert.ok(existsSync(join(real, 'model.json')));
  });

  it('unusable paths fail within a second with one line', async () => {
    for (const [path, pattern] of [
      ['/proc/foo', /cannot create --model-dir \/proc\/foo: no such file or folder \(ENOENT\)/],
      ['/dev/null/x', /cannot use --model-dir \/dev\/null\/x: \/dev\/null is a file/],
      ['', /--model-dir is empty; give a folder path/],
    ] as const) {
      const started = performance.now();
      const run = await seqTag(['train', ...TINY, '--model-dir', path]);
      oneLine(run, path === '' ? 2 : 1, pattern);
      assert.ok(performance.now() - started < 3000, `${path}: fast`);
      assert.equal(run.stdout, '');
    }
  });
});

describe('no path under /proc or /sys makes a command hang (issue #31)', () => {
  // Node's recursive mkdir loops forever on /proc/foo, ignoring SIGTERM: SIGKILL ends a hang here.
  const run = (args: string[]) => {
    const started = performance.now();
    const result = spawnSync(SEQ_TAG_COMMAND[0], [SEQ_TAG_COMMAND[1], ...args], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
      timeout: 15_000,
      killSignal: 'SIGKILL',
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, ms: performance.now() - started };
  };
  const root = () => tempDir();
  for (const [base, code] of [
    ['/proc/seq-tag-test', 'ENOENT'],
    ['/sys/seq-tag-test', 'EPERM'],
  ] as const) {
    const cases: [string, string[], string][] = [
      ['train --logdir', ['train', ...TINY, '--model-dir', join(root(), 'm'), '--logdir', base], `--logdir ${base}`],
      ['train --model-dir', ['train', ...TINY, '--model-dir', `${base}/m`], `--model-dir ${base}/m`],
      ['sweep --out', ['sweep', '--grid', 'activation=softmax', '--seeds', '1', '--epochs', '1', '--samples', '64', '--out', `${base}/s`], `--out ${base}/s`],
      [
        'sweep --logdir',
        ['sweep', '--grid', 'activation=softmax', '--seeds', '1', '--epochs', '1', '--samples', '64', '--out', join(root(), 's'), '--logdir', base],
        `--logdir ${base}`,
      ],
      ['tune --out', ['tune', '--space', 'lr=1e-3..1e-2:log', '--trials', '1', '--epochs', '1', '--samples', '64', '--out', `${base}/t`], `--out ${base}/t`],
      [
        'tune --logdir',
        ['tune', '--space', 'lr=1e-3..1e-2:log', '--trials', '1', '--epochs', '1', '--samples', '64', '--out', join(root(), 't'), '--logdir', base],
        `--logdir ${base}`,
      ],
      ['export --to', ['export', '--model', join(FIXTURES, 'seed-softmax.keras'), '--to', `${base}/m.keras`], `--to ${base}`],
    ];
    for (const [name, args, said] of cases) {
      it(`${name} ${base}: one line within a second of work, exit 1`, () => {
        const result = run(args);
        oneLine(result, 1, new RegExp(`^seq-tag: cannot create ${said.replace(/[/.]/g, '\\$&')}: .*\\(${code}\\); choose a writable folder$`));
        // A second of work measured alone (0.4–0.7 s whole); the bound leaves room for start-up on a loaded machine and still fails a hang (killed at 15 s).
        assert.ok(result.ms < 8000, `${result.ms.toFixed(0)} ms`);
        assert.equal(result.stdout, '');
      });
    }
  }
});

describe('a closed stdout stops the printing, not the work', () => {
  it('train | head -3 still trains and saves, exit 0', () => {
    const dir = join(tempDir(), 'piped');
    const run = bash(`seq-tag train ${TINY.join(' ')} --model-dir '${dir}' | head -3; echo "exit \${PIPESTATUS[0]}"`);
    assert.match(run.stdout, /^exit 0$/m, run.stderr);
    assert.equal(run.stderr, '');
    assert.equal(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).userDefinedMetadata.losses.length, 2);
  });

  it('sweep | head -3 still runs every run and writes its summary and chart', () => {
    const out = join(tempDir(), 'sweep');
    const run = bash(
      `seq-tag sweep --grid activation=linear,softmax --seeds 2 --epochs 1 --samples 64 --jobs 2 --backend cpu --out '${out}' | head -3; echo "exit \${PIPESTATUS[0]}"`,
    );
    assert.match(run.stdout, /^exit 0$/m, run.stderr);
    assert.equal(readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').length, 4);
    assert.equal(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).configurations.length, 2);
    assert.match(readFileSync(join(out, 'loss-curves.svg'), 'utf8'), /<\/svg>\s*$/);
  });
});

describe('Ctrl-C', () => {
  it('in train: finishes the batch, saves the last completed epoch with an "interrupted" record, exit 130', async () => {
    const dir = join(tempDir(), 'model');
    const run = start(['train', ...LONG, '--model-dir', dir]);
    await run.waitFor(/^epoch +2\/1000/m);
    run.child.kill('SIGINT');
    assert.equal(await run.done, 130, run.err());
    const said = /interrupted at epoch (\d+) of 1000: saved the model of epoch (\d+) to /.exec(run.out());
    assert.ok(said, run.out());
    const [at, saved] = [Number(said[1]), Number(said[2])];
    assert.equal(saved, at - 1);
    assert.match(run.err(), /stopping after this batch/);
    const meta = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).userDefinedMetadata;
    assert.deepEqual(meta.interrupted, { atEpoch: at, epochs: 1000 });
    assert.equal(meta.losses.length, saved);
    const predict = await seqTag(['predict', '--model-dir', dir, '--n', '1', '--backend', 'cpu']);
    assert.match(predict.stdout, new RegExp(`${saved} epochs? \\(interrupted at epoch ${at} of 1000\\)`));
  });

  it('in train, a second Ctrl-C exits at once and the previous model stays byte for byte', async () => {
    const dir = join(tempDir(), 'model');
    assert.equal((await seqTag(['train', ...TINY, '--model-dir', dir])).status, 0);
    const before = folderSnapshot(dir);
    const run = start(['train', ...LONG, '--model-dir', dir]);
    await run.waitFor(/^epoch +1\/1000/m);
    // Both arrive during one batch; the loop sees them together at its next turn.
    run.child.kill('SIGINT');
    await sleep(30);
    run.child.kill('SIGINT');
    assert.equal(await run.done, 130);
    assert.doesNotMatch(run.out(), /saved the model/);
    // The model is untouched; the run's checkpoint of epoch 1 stays beside it, for --resume (and, if the
    // second signal came during a checkpoint's write, that write's temporary file, which the next writer removes).
    const checkpointFiles = (name: string) => name === 'checkpoint.seqtag' || name.startsWith('.checkpoint.seqtag.tmp-');
    assert.deepEqual(
      folderSnapshot(dir).filter(([name]) => !checkpointFiles(name)),
      before,
    );
    // The signals may come before the epoch's checkpoint is written: if there is one, it is whole (an
    // epoch of this run takes a few milliseconds on the native kernels, so it may hold more than one).
    if (existsSync(join(dir, 'checkpoint.seqtag'))) assert.ok(((await readCheckpointIn(dir, dir))?.state.epochs.length ?? 0) >= 1);
    assert.equal((await seqTag(['train', ...TINY, '--model-dir', dir, '--restart'])).status, 0);
    assert.deepEqual(
      readdirSync(dir).filter((name) => checkpointFiles(name)),
      [],
      'the next run leaves no checkpoint file behind',
    );
  });

  it('in sweep: stops the workers, says how to resume, exit 130; the same command then finishes the rest', async () => {
    const out = join(tempDir(), 'sweep');
    const args = ['sweep', '--grid', 'units=8,12', '--seeds', '3', '--epochs', '3', '--samples', '300', '--jobs', '1', '--backend', 'cpu', '--out', out];
    const run = start(args);
    await run.waitFor(/^\[1\/6\]/m);
    run.child.kill('SIGINT');
    assert.equal(await run.done, 130, run.err());
    const said = /interrupted: (\d) of 6 runs kept in .*results\.jsonl; run the same command to resume/.exec(run.err());
    assert.ok(said, run.err());
    const kept = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n');
    assert.equal(kept.length, Number(said[1]));
    assert.ok(!existsSync(join(out, 'summary.json')));
    const resumed = await seqTag(args);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal((resumed.stdout.match(/\(already done\)/g) ?? []).length, kept.length);
    assert.equal(readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').length, 6);
  });
});

describe('one writer at a time', () => {
  it('a second train into the same folder fails at once naming the first; after a SIGKILL the lock is taken over', async () => {
    const dir = join(tempDir(), 'model');
    const first = start(['train', ...LONG, '--model-dir', dir]);
    await first.waitFor(/^epoch +1\/1000/m);
    const second = await seqTag(['train', ...TINY, '--model-dir', dir]);
    oneLine(second, 1, new RegExp(`another seq-tag \\(pid ${first.child.pid}\\) is writing to .*; wait for it to finish or choose another --model-dir`));
    assert.equal(second.stdout, '');
    first.child.kill('SIGKILL');
    await first.done;
    // The killed run left its checkpoint: a new run replaces it only when asked.
    const third = await seqTag(['train', ...TINY, '--model-dir', dir, '--restart']);
    assert.equal(third.status, 0, third.stderr);
  });

  it('a second sweep into the same --out fails at once', async () => {
    const out = join(tempDir(), 'sweep');
    const first = start([
      'sweep',
      '--grid',
      'units=8,12',
      '--seeds',
      '3',
      '--epochs',
      '3',
      '--samples',
      '300',
      '--jobs',
      '1',
      '--backend',
      'cpu',
      '--out',
      out,
    ]);
    await first.waitFor(/sweep · /);
    oneLine(
      await seqTag(['sweep', '--grid', 'lr=0.1', '--seeds', '1', '--epochs', '1', '--backend', 'cpu', '--out', out]),
      1,
      /another seq-tag \(pid \d+\) is writing to .*; wait for it to finish or choose another --out/,
    );
    first.child.kill('SIGKILL');
    await first.done;
  });
});

describe('full disk: one line, exit 1, nothing half-written', () => {
  it('train: a disk already full fails before training, in one line', () => {
    const run = bash(
      `head -c 1M /dev/zero > "$DISK/filler" 2> /dev/null; seq-tag train ${TINY.join(' ')} --model-dir "$DISK/m"; echo "exit $?"; ls -A "$DISK"`,
      { fullDisk: { kib: 16 } },
    );
    assert.match(run.stdout, /^exit 1$/m, run.stderr);
    assert.match(run.stderr, /^seq-tag: cannot write to --model-dir .*: disk full \(ENOSPC\); free some space or choose another folder\n$/);
    assert.doesNotMatch(run.stdout, /^epoch/m, 'no training was wasted');
    assert.deepEqual(run.stdout.trim().split('\n').slice(1), ['filler'], 'nothing left behind');
  });

  it('train: the previous model survives a checkpoint, or a save, that runs out of space; a kept checkpoint then finishes the run', () => {
    // Free space is left for 6, 7, … pages: first the run's checkpoint does not fit, then it fits and the model's save does not.
    const run = bash(
      `seq-tag train ${TINY.join(' ')} --epochs 1 --model-dir "$DISK/m" > /dev/null
      before=$(cat "$DISK"/m/* | md5sum)
      for pages in $(seq 6 20); do
        rm -f "$DISK/filler"
        head -c $(( $(df --output=avail -B1 "$DISK" | tail -1) - pages * 4096 )) /dev/zero > "$DISK/filler"
        seq-tag train ${TINY.join(' ')} --epochs 1 --seed 9 --model-dir "$DISK/m" > /dev/null 2> "$DISK/../err"
        echo "exit $?"; cat "$DISK/../err" >&2
        [ "$before" = "$(cat "$DISK"/m/model.json "$DISK"/m/weights-* | md5sum)" ] && echo unchanged
        echo "files: $(ls -A "$DISK/m" | grep -v '^weights-' | tr '\\n' ' ')"
        grep -q 'cannot save the model' "$DISK/../err" && break
      done
      rm "$DISK/filler"
      seq-tag train --resume --model-dir "$DISK/m" > /dev/null && echo resumed`,
      { fullDisk: { kib: 256 } },
    );
    const errors = run.stderr.trim().split('\n');
    assert.ok(errors.length >= 2, run.stderr);
    for (const line of errors.slice(0, -1))
      assert.match(
        line,
        /^seq-tag: cannot save the checkpoint of epoch 1 to .*: disk full \(ENOSPC\); training stopped and nothing of this run was kept; a model saved there before is unchanged$/,
      );
    assert.match(
      errors.at(-1)!,
      /^seq-tag: cannot save the model to .*: disk full \(ENOSPC\); the previous model there is unchanged; the run's last checkpoint is kept: make room and finish it with: seq-tag train --resume --model-dir .*$/,
    );
    const attempts = run.stdout.trim().split('\n').slice(0, -1);
    assert.equal(attempts.filter((l) => l === 'exit 1').length, errors.length);
    assert.equal(attempts.filter((l) => l === 'unchanged').length, errors.length, 'the previous model, byte for byte, after every attempt');
    const listings = attempts.filter((l) => l.startsWith('files:')).map((l) => l.trim());
    assert.deepEqual(listings.slice(0, -1), Array(errors.length - 1).fill('files: model.json'), 'no temporary files left');
    assert.equal(listings.at(-1), 'files: checkpoint.seqtag model.json');
    assert.equal(run.stdout.trim().split('\n').at(-1), 'resumed');
  });

  it('sweep: stops with one line; results.jsonl holds only whole records; a later run resumes', () => {
    const run = bash(
      `seq-tag sweep --grid units=4,5,6,7,8,9 --seeds 2 --epochs 1 --samples 32 --jobs 2 --backend cpu --out "$DISK/s" > /dev/null
      echo "exit $?"
      node -e 'for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\\n").filter(Boolean)) JSON.parse(l); console.log("whole lines")' "$DISK/s/results.jsonl"
      tail -c 1 "$DISK/s/results.jsonl" | od -c | head -1
      ls -A "$DISK/s"`,
      { fullDisk: { kib: 16 } },
    );
    assert.match(run.stdout, /^exit 1$/m, run.stderr);
    assert.match(
      run.stderr,
      /^seq-tag: cannot write .*results\.jsonl: disk full \(ENOSPC\); the sweep stopped with \d+ of 12 runs kept whole in it; make room and run the same command to resume$/m,
    );
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
    assert.match(run.stdout, /^whole lines$/m);
    assert.match(run.stdout, /\\n/, 'ends with a newline');
    assert.doesNotMatch(run.stdout, /summary\.json|loss-curves\.svg|\.tmp-/);
  });
});

describe('full disk after the runs: the table is printed, the summary files are whole or absent', () => {
  it('sweep whose chart does not fit: one line, exit 1, no truncated svg', () => {
    const run = bash(
      `seq-tag sweep --grid units=4,5,6,7,8,9 --seeds 1 --epochs 1 --samples 32 --jobs 1 --backend cpu --out "$DISK/s"
      echo "exit $?"
      [ -e "$DISK/s/summary.json" ] && node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log("summary whole")' "$DISK/s/summary.json"
      ls -A "$DISK/s"`,
      { fullDisk: { kib: 28 } },
    );
    assert.match(run.stdout, /^exit 1$/m, run.stderr);
    assert.match(run.stdout, /^units=4 +1 +0% +0% +\d\.\d{4}/m, 'the table came first');
    assert.match(
      run.stderr,
      /^seq-tag: cannot write the sweep's summary into .*: disk full \(ENOSPC\); every run is kept in .*results\.jsonl: make room and run the same command to redo the summary\n$/,
    );
    const files = run.stdout
      .slice(run.stdout.indexOf('\nexit 1'))
      .trim()
      .split('\n')
      .slice(1)
      .filter((f) => f !== 'summary whole');
    assert.ok(!files.includes('loss-curves.svg'), `no partial svg: ${files}`);
    assert.ok(!files.some((f) => f.includes('.tmp-')), `no temporary files: ${files}`);
  });
});

describe('broken models', () => {
  async function nanModel(): Promise<string> {
    const dir = join(tempDir(), 'model');
    assert.equal((await seqTag(['train', ...TINY, '--model-dir', dir])).status, 0);
    const weights = readdirSync(dir).find((f) => f.startsWith('weights-'))!;
    const bytes = readFileSync(join(dir, weights));
    bytes.writeFloatLE(NaN, 40);
    writeFileSync(join(dir, weights), bytes);
    return dir;
  }

  it('predict and evaluate refuse a model whose weights hold NaN; doctor explains it, exit 3', async () => {
    const dir = await nanModel();
    for (const command of ['predict', 'evaluate']) {
      oneLine(
        await seqTag([command, '--model-dir', dir, '--backend', 'wasm']),
        1,
        /the model's weights in .* contain NaN\/Infinity \(its training diverged\): its predictions are meaningless/,
      );
    }
    const doctor = await seqTag(['doctor', '--model-dir', dir, '--backend', 'cpu', '--burst', '2']);
    assert.equal(doctor.status, 3, doctor.stderr);
    assert.match(
      doctor.stdout,
      /✗ saved weights are finite +1 of 5 weight tensors in .* hold NaN\/Infinity \(lstm\/kernel\): its training diverged before it was saved/,
    );
    assert.match(doctor.stdout, /most likely cause: saved weights are finite \(saved\)/);
    const json = JSON.parse((await seqTag(['doctor', '--model-dir', dir, '--backend', 'cpu', '--burst', '2', '--json'])).stdout);
    assert.equal(json.checks[0].id, 'saved');
    assert.equal(json.checks[0].numbers.nonFiniteTensors, 1);
  });
});

describe('wording', () => {
  it('one epoch, one sequence, one run are singular', async () => {
    const train = await seqTag(['train', '--samples', '1', '--epochs', '1', '--seed', '1', '--backend', 'cpu', '--model-dir', join(tempDir(), 'm')]);
    assert.equal(train.status, 0, train.stderr);
    assert.match(train.stdout, / · 1 sequence × 10 · /);
    assert.match(train.stdout, /trained 1 epoch in /);
    const sweep = await seqTag([
      'sweep',
      '--grid',
      'units=4',
      '--seeds',
      '1',
      '--epochs',
      '1',
      '--samples',
      '16',
      '--backend',
      'cpu',
      '--out',
      join(tempDir(), 's'),
    ]);
    assert.equal(sweep.status, 0, sweep.stderr);
    assert.match(sweep.stdout, /1 configuration × 1 seed = 1 run · 1 worker · /);
  });

  it("help shows --jobs's default once; a path with spaces is quoted in the next-step hint", async () => {
    const help = (await seqTag(['sweep', '--help'])).stdout.replace(/\s+/g, ' ');
    assert.equal((help.match(/one per core/g) ?? []).length, 1, help);
    const dir = join(tempDir(), 'my model');
    const run = await seqTag(['train', ...TINY, '--model-dir', dir]);
    assert.ok(run.stdout.includes(`next: seq-tag predict --model '${dir}'`), run.stdout);
  });

  it('a diverged run into a folder that did not exist says nothing was written there, and leaves no folder', async () => {
    const dir = join(tempDir(), 'never');
    const run = await seqTag(['train', ...TINY, '--activation', 'linear', '--model-dir', dir]);
    assert.equal(run.status, 3);
    assert.match(run.stdout, /the model was not saved; nothing was written to .*never\./);
    assert.ok(!existsSync(dir));
  });

  it('a huge argument is not echoed in full', async () => {
    const run = await seqTag(['train', '--epochs', 'x'.repeat(100_000)]);
    oneLine(run, 2, /'x{40}…\(100,000 characters\)' is invalid/);
    assert.ok(run.stderr.length < 300);
  });

  it('sweep: a flag given twice in --grid, or beside --answers, is refused', async () => {
    oneLine(await seqTag(['sweep', '--grid', 'activation=softmax', '--grid', 'activation=linear']), 2, /--grid activation is given twice/);
    oneLine(
      await seqTag(['sweep', '--answers', '--activation', 'softmax']),
      2,
      /--answers sets --activation itself in each of its configurations; drop --activation, or sweep it with --grid/,
    );
    oneLine(await seqTag(['sweep', '--grid', 'lr=0.001,1e-3']), 2, /'0\.001' and '1e-3' are the same value/);
  });

  it("doctor's header names the engine its burst really runs on", async () => {
    const run = await seqTag(['doctor', '--samples', '64', '--seed', '1', '--backend', 'cpu', '--burst', '1']);
    assert.match(run.stdout, /· layers engine/);
    assert.doesNotMatch(run.stdout, /fused engine/);
  });
});

describe('sizes: measured limits, estimates up front, no crashes', () => {
  it('--units above the measured 1,024 is refused; a batch that cannot fit in memory is refused at once, naming the flag', async () => {
    oneLine(await seqTag(['train', '--units', '4096']), 2, /--units <n>' argument '4096' is invalid\. expected a whole number from 1 to 1,024/);
    const started = performance.now();
    oneLine(
      await seqTag(['train', '--batch-size', '1000000', '--samples', '1000000', '--dtype', 'float64', '--model-dir', join(tempDir(), 'm')]),
      2,
      /this run needs about [\d.]+ GiB of memory, more than this machine can give \([\d.]+ GiB of [\d.]+ GiB\); lower --batch-size/,
    );
    assert.ok(performance.now() - started < 3000);
    oneLine(
      await seqTag(['train', '--lstm', 'layers', '--encoding', 'onehot', '--samples', '10000000', '--backend', 'wasm', '--model-dir', join(tempDir(), 'm')]),
      2,
      /keeps about 4\.\d GiB in the wasm backend, which holds at most 4 GiB; use --lstm fused/,
    );
    oneLine(
      await seqTag(['sweep', '--grid', 'units=8,16', '--batch-size', '500000', '--samples', '500000', '--jobs', '2', '--out', join(tempDir(), 's')]),
      2,
      /in each of 2 workers.*lower --batch-size/,
    );
  });

  it('a run of minutes says what it will cost before it starts', async () => {
    const run = start(['train', '--samples', '5000000', '--seed', '1', '--backend', 'cpu', '--model-dir', join(tempDir(), 'm')]);
    await run.waitFor(/\n/);
    run.child.kill('SIGKILL');
    await run.done;
    assert.match(run.out().split('\n')[0], /^estimate: about \d+ min and \d+ MiB of memory for this run/);
  });
});

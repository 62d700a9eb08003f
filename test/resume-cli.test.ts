/**
 * Issue #20, `train --resume` on the real binary: a run stopped by SIGTERM, by SIGKILL at any
 * moment, or by a disk that fills up continues from its last checkpoint and ends with exactly the
 * epochs, held-out scores and model of a run never stopped; what cannot be resumed says why in one line.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { bash, killGroup, oneLine, seqTag, startSeqTag, tempDir, type Run } from './helpers.js';
import { scalarsOf, sessionOf } from './tfevents-reader.js';

/** About 0.15 s an epoch on the fused engine: long enough to stop in the middle. */
const RUN = ['--samples', '2000', '--epochs', '10', '--seed', '7', '--validation-split', '0.1', '--lr', '0.01', '--backend', 'cpu'];
/** The same run on the layers engine (slower per epoch). */
const LAYERS = ['--samples', '600', '--epochs', '6', '--seed', '7', '--lstm', 'layers', '--encoding', 'onehot', '--backend', 'wasm'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a resumed run must reproduce: every epoch without its timing, and the held-out evaluation. */
function outcome(run: Run): { epochs: unknown[]; evaluation: unknown } {
  assert.equal(run.status, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  return { epochs: doc.epochs.map(({ seconds: _, ...e }: { seconds: number }) => e), evaluation: doc.evaluation };
}

function weightsOf(dir: string): string {
  const meta = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  return readFileSync(join(dir, meta.weightsManifest[0].paths[0])).toString('hex');
}

async function untilCheckpoint(dir: string, exited: Promise<unknown>): Promise<void> {
  let done = false;
  void exited.then(() => (done = true));
  while (!existsSync(join(dir, 'checkpoint.seqtag'))) {
    if (done) throw new Error('the run ended before its first checkpoint');
    await sleep(10);
  }
}

for (const [engine, args] of [
  ['fused', RUN],
  ['layers', LAYERS],
] as const) {
  describe(`train --resume (${engine} engine)`, () => {
    const reference = tempDir();
    let whole: ReturnType<typeof outcome>;
    before(async () => {
      whole = outcome(await seqTag(['train', ...args, '--model-dir', reference, '--json']));
    });

    it('after SIGTERM: exit 143, the resume command printed; repeating the command with --resume ends as a run never stopped (its TensorBoard logs too)', async () => {
      const [dir, logdir] = [join(tempDir(), 'model'), join(tempDir(), 'logs')];
      const run = startSeqTag(['train', ...args, '--model-dir', dir, '--logdir', logdir]);
      await untilCheckpoint(dir, run.exited);
      killGroup(run.child, 'SIGTERM');
      assert.equal(await run.exited, 143, run.out());
      assert.match(run.out(), new RegExp(`continue the run with: seq-tag train --resume --model-dir ${dir}\\n`));
      assert.equal(sessionOf(logdir).status, undefined, 'an interrupted run does not end its HParams session');
      const resumed = await seqTag(['train', ...args, '--model-dir', dir, '--resume', '--json', '--logdir', logdir]);
      assert.deepEqual(outcome(resumed), whole);
      // The two runs' files in train/ hold every epoch, each with the loss of the run never stopped.
      const files = readdirSync(join(logdir, 'train')).map((f) => scalarsOf(join(logdir, 'train', f)));
      assert.equal(files.length, 2);
      const steps = files.flatMap((file) => [...file.entries()]).sort(([a], [b]) => a - b);
      assert.deepEqual(
        steps.map(([step, v]) => [step, v.epoch_loss]),
        (whole.epochs as { epoch: number; loss: number }[]).map((e) => [e.epoch, Math.fround(e.loss)]),
      );
      assert.equal(sessionOf(logdir).status, 1, 'the resumed run ends the session: STATUS_SUCCESS');
      assert.equal(weightsOf(dir), weightsOf(reference));
      assert.ok(!existsSync(join(dir, 'checkpoint.seqtag')), 'a finished run leaves no checkpoint');
      const record = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).userDefinedMetadata;
      assert.equal(record.resumedAfter.length, 1);
      assert.equal(record.interrupted, undefined);
    });

    it('after SIGKILL at a random moment: --resume alone ends as a run never stopped', async () => {
      const dir = join(tempDir(), 'model');
      const run = startSeqTag(['train', ...args, '--model-dir', dir]);
      await untilCheckpoint(dir, run.exited);
      // Within the first few of the epochs left (each ≥ 0.1 s): the run is still going when killed.
      await sleep(Math.random() * 250);
      killGroup(run.child, 'SIGKILL');
      await run.exited;
      const resumed = await seqTag(['train', '--resume', '--model-dir', dir, '--json']);
      assert.deepEqual(outcome(resumed), whole);
      assert.equal(weightsOf(dir), weightsOf(reference));
    });
  });
}

describe('train --resume keeps the threads the run trained on (issue #31)', () => {
  // 32 units: seq-tag would pick 2 threads, whose half-batch sums differ from 1 thread's in the last digits.
  const THREADED = ['--units', '32', '--samples', '2000', '--epochs', '6', '--seed', '3', '--backend', 'cpu'];
  it('a --threads 1 run stopped by SIGKILL resumes on 1 thread and ends as a run never stopped; another --threads is said', async () => {
    const whole = outcome(await seqTag(['train', ...THREADED, '--threads', '1', '--model-dir', tempDir(), '--json']));
    const twoThreads = outcome(await seqTag(['train', ...THREADED, '--threads', '2', '--model-dir', tempDir(), '--json']));
    assert.notDeepEqual(twoThreads.epochs, whole.epochs, 'the thread count changes the losses, so the test can tell');
    const stopped = async () => {
      const dir = join(tempDir(), 'model');
      const run = startSeqTag(['train', ...THREADED, '--threads', '1', '--model-dir', dir]);
      await untilCheckpoint(dir, run.exited);
      killGroup(run.child, 'SIGKILL');
      await run.exited;
      return dir;
    };
    assert.deepEqual(outcome(await seqTag(['train', '--resume', '--model-dir', await stopped(), '--json'])), whole);
    const other = await seqTag(['train', '--resume', '--threads', '2', '--model-dir', await stopped()]);
    assert.equal(other.status, 0, other.stderr);
    assert.match(
      other.stdout,
      /resumed after epoch \d+ \(checkpoint of [^)]*\); note: it trained on 1 thread and continues on 2 \(--threads 2\), so the losses will not match an unstopped run bit for bit/,
    );
  });
});

describe('a disk that fills up during training', () => {
  it('stops at the checkpoint that does not fit, keeps the one before, and --resume after making room ends as a run never stopped', async () => {
    const whole = outcome(await seqTag(['train', ...RUN, '--model-dir', join(tempDir(), 'm'), '--json']));
    const run = bash(
      `seq-tag train ${RUN.join(' ')} --model-dir "$DISK/m" > /dev/null 2> "$DISK/../err" &
      while [ ! -e "$DISK/m/checkpoint.seqtag" ]; do sleep 0.01; done
      head -c 100M /dev/zero > "$DISK/filler" 2> /dev/null
      wait $!; echo "exit $?"; cat "$DISK/../err" >&2
      rm "$DISK/filler"
      seq-tag train --resume --model-dir "$DISK/m" --json`,
      { fullDisk: { kib: 1024 } },
    );
    assert.match(run.stdout, /^exit 1$/m, run.stderr);
    assert.match(
      run.stderr,
      /^seq-tag: cannot save the checkpoint of epoch (\d+) to .*: disk full \(ENOSPC\); training stopped and the checkpoint of epoch \d+ is kept: make room and continue with: seq-tag train --resume --model-dir .*; a model saved there before is unchanged\n$/,
    );
    assert.deepEqual(outcome({ ...run, status: 0, stdout: run.stdout.slice(run.stdout.indexOf('{')) }), whole);
  });
});

describe('what cannot be resumed, or would be lost, is one line', () => {
  const TINY = ['--samples', '64', '--epochs', '3', '--seed', '5', '--backend', 'cpu'];
  /** A folder holding an unfinished run: stopped by SIGKILL after its first checkpoint. */
  async function unfinished(): Promise<string> {
    const dir = join(tempDir(), 'model');
    const run = startSeqTag(['train', ...RUN, '--model-dir', dir]);
    await untilCheckpoint(dir, run.exited);
    killGroup(run.child, 'SIGKILL');
    await run.exited;
    return dir;
  }

  it('a new run over an unfinished one is refused until --restart; flags that disagree with it are refused', async () => {
    const dir = await unfinished();
    oneLine(
      await seqTag(['train', ...TINY, '--model-dir', dir]),
      1,
      /holds an unfinished run \(\d+ of 10 epochs done, seed 7\): continue it with: seq-tag train --resume --model-dir .*, or start this run over it with --restart$/,
    );
    oneLine(
      await seqTag(['train', '--resume', '--lr', '0.02', '--model-dir', dir]),
      2,
      /--resume continues the run in .* as it was configured: --lr 0.01 there, 0.02 here; drop --lr/,
    );
    oneLine(await seqTag(['train', '--resume', '--seed', '8', '--model-dir', dir]), 2, /--seed 7 there, 8 here/);
    oneLine(await seqTag(['train', '--resume', '--preset', 'solve', '--model-dir', dir]), 2, /--preset solve .* there, .* here/);
    oneLine(await seqTag(['train', '--resume', '--epochs', '0', '--model-dir', dir]), 2, /--epochs/);
    oneLine(await seqTag(['train', '--resume', '--restart', '--model-dir', dir]), 2, /give one/);
    const predict = await seqTag(['predict', '--model', dir, '--n', '1']);
    if (!existsSync(join(dir, 'model.json')))
      oneLine(predict, 1, /holds the checkpoint of an unfinished run and no saved model yet; finish it with: seq-tag train --resume/);
    const restarted = await seqTag(['train', ...TINY, '--model-dir', dir, '--restart']);
    assert.equal(restarted.status, 0, restarted.stderr);
    assert.ok(!existsSync(join(dir, 'checkpoint.seqtag')));
    oneLine(
      await seqTag(['train', '--resume', '--model-dir', dir]),
      1,
      /--resume: .* holds no unfinished run \(no checkpoint\); start a new run without --resume$/,
    );
  });

  it('a damaged, foreign or device checkpoint is refused in one line, nothing trained', async () => {
    const dir = await unfinished();
    const file = join(dir, 'checkpoint.seqtag');
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 100));
    oneLine(
      await seqTag(['train', '--resume', '--model-dir', dir]),
      1,
      /checkpoint\.seqtag was changed after it was written \(its checksum does not match\); it cannot be resumed: start a new run over it with: seq-tag train --restart/,
    );
    writeFileSync(file, 'not a checkpoint');
    oneLine(await seqTag(['train', '--resume', '--model-dir', dir]), 1, /is unreadable \(not a seq-tag checkpoint\)/);
    const other = join(tempDir(), 'model');
    assert.equal((await seqTag(['train', ...TINY, '--model-dir', other])).status, 0);
    symlinkSync('/dev/zero', join(other, 'checkpoint.seqtag'));
    oneLine(
      await seqTag(['train', '--resume', '--model-dir', other]),
      1,
      /the checkpoint in .* is not a regular file \(a device, pipe or socket\); start a new run over it with: seq-tag train --restart/,
    );
    // --restart starts over without reading it.
    const restarted = await seqTag(['train', ...TINY, '--model-dir', other, '--restart']);
    assert.equal(restarted.status, 0, restarted.stderr);
    assert.ok(!existsSync(join(other, 'checkpoint.seqtag')));
  });

  it('an edited header is found (issue #31): one character of the seed, or a loss, is one line; arrays that do not fit a re-signed header too', async () => {
    const dir = await unfinished();
    const file = join(dir, 'checkpoint.seqtag');
    const bytes = readFileSync(file);
    const edit = (from: string, to: string) => {
      const copy = Buffer.from(bytes);
      const at = copy.indexOf(from);
      assert.ok(at > 0, from);
      copy.write(to, at);
      return copy;
    };
    const altered =
      /checkpoint\.seqtag was changed after it was written \(its checksum does not match\); it cannot be resumed: start a new run over it with: seq-tag train --restart --model-dir /;
    writeFileSync(file, edit('"seed":7', '"seed":8'));
    oneLine(await seqTag(['train', '--resume', '--model-dir', dir]), 1, altered);
    writeFileSync(file, edit('"loss":0.', '"loss":1.'));
    oneLine(await seqTag(['train', '--resume', '--model-dir', dir]), 1, altered);
    // A forger who recomputes the digest: the arrays are held to the model the header's config builds.
    const forged = edit('"units":16', '"units":17');
    forged.set(
      createHash('sha256')
        .update(forged.subarray(0, forged.length - 32))
        .digest(),
      forged.length - 32,
    );
    writeFileSync(file, forged);
    const run = await seqTag(['train', '--resume', '--model-dir', dir]);
    assert.equal(run.status, 1, run.stderr);
    assert.match(
      run.stderr.trimEnd(),
      /^seq-tag: the checkpoint in .* does not fit the run it describes \(its \S+ has \d+ values, expected \d+\); it cannot be resumed: start a new run over it with: seq-tag train --restart --model-dir /m,
    );
    assert.doesNotMatch(run.stderr, /unexpected error/);
    assert.ok(!existsSync(join(dir, 'model.json')));
  });

  it('--restart over a folder named checkpoint.seqtag says why in one line and removes nothing', async () => {
    const dir = join(tempDir(), 'model');
    mkdirSync(join(dir, 'checkpoint.seqtag'), { recursive: true });
    writeFileSync(join(dir, 'checkpoint.seqtag', 'notes.txt'), 'mine');
    oneLine(
      await seqTag(['train', ...TINY, '--model-dir', dir, '--restart']),
      1,
      /^seq-tag: cannot discard the checkpoint in .*: checkpoint\.seqtag there is a folder, which seq-tag did not write; move .*checkpoint\.seqtag away and run again$/,
    );
    assert.equal(readFileSync(join(dir, 'checkpoint.seqtag', 'notes.txt'), 'utf8'), 'mine');
  });
});

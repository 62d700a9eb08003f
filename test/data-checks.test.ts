/**
 * Issue #31: a user's .npz is checked before anything is scored. Labels must be tags the model has,
 * inputs finite numbers (ids whole and in the vocabulary); what the arrays will become in memory is
 * counted from the headers before any is inflated; no crafted header ends in anything but one line.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { zipSync } from 'fflate';
import seedrandom from 'seedrandom';
import { UserError } from '../src/errors.js';
import { oneHotLabels, readDataFile } from '../src/task/tag-data.js';
import { seqTag, oneLine, tempDir } from './helpers.js';
import { npyBytes } from './npy.js';

type Dtype = '<f4' | '<f8' | '<i4' | '<i8' | '|i1';

const npy = npyBytes;

/** The bytes of `values` in `dtype` (little-endian). */
function typed(dtype: Dtype, values: number[]): Uint8Array {
  const arrays = {
    '<f4': () => new Float32Array(values),
    '<f8': () => new Float64Array(values),
    '<i4': () => new Int32Array(values),
    '<i8': () => BigInt64Array.from(values, (v) => BigInt(v)),
    '|i1': () => new Int8Array(values),
  };
  return new Uint8Array(arrays[dtype]().buffer);
}

function npzFile(entries: Record<string, Uint8Array>, level: 0 | 6 = 0): string {
  const path = join(tempDir(), 'data.npz');
  writeFileSync(path, zipSync(Object.fromEntries(Object.entries(entries).map(([k, v]) => [`${k}.npy`, v])), { level }));
  return path;
}

/** 20 sequences of 10 scalar steps with tag ids, as the digit task's models take them; `spoil` edits them. */
function digitData(spoil: (x: number[], y: number[]) => void = () => {}, yDtype: Dtype = '<i8'): string {
  const x = Array.from({ length: 200 }, (_, i) => i % 10);
  const y = Array.from({ length: 200 }, (_, i) => (i % 5 === 0 ? 1 : 0));
  spoil(x, y);
  return npzFile({ x: npy('<f4', [20, 10, 1], typed('<f4', x)), y: npy(yDtype, [20, 10], typed(yDtype, y)) });
}

async function refused(path: string, expect: { tags?: number; vocabulary?: number }, pattern: RegExp): Promise<void> {
  await assert.rejects(readDataFile(path, expect), (err: unknown) => {
    assert.ok(err instanceof UserError, `a UserError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('labels are checked before anything is scored', () => {
  it('tag ids past the last tag, with the first offending position', async () => {
    await refused(
      digitData((_x, y) => (y[173] = 7)),
      { tags: 2 },
      /^--data .*data\.npz: y\[17, 3\] = 7, but the model has 2 tags \(ids 0\.\.1; a negative id marks padding\)$/,
    );
    // 2^40 as int64: a Number, not a wrapped int32.
    await refused(
      digitData((_x, y) => (y[0] = 2 ** 40)),
      { tags: 2 },
      /y\[0, 0\] = 1099511627776, but the model has 2 tags/,
    );
  });

  it('tag ids that are not whole numbers', async () => {
    await refused(
      digitData((_x, y) => (y[31] = 0.5), '<f4'),
      { tags: 2 },
      /y\[3, 1\] = 0\.5 is not a whole tag id/,
    );
    await refused(
      digitData((_x, y) => (y[5] = NaN), '<f8'),
      { tags: 2 },
      /y\[0, 5\] = nan is not a whole tag id/,
    );
  });

  it('one-hot rows that are soft, doubled or negative; all-zero rows are padding', async () => {
    const data = (row: number[]) => {
      const y = Array.from({ length: 20 * 10 }, (_, i) => [i % 2, 1 - (i % 2)]).flat();
      y.splice(2 * 42, 2, ...row);
      return npzFile({ x: npy('<f4', [20, 10, 1], typed('<f4', Array(200).fill(1))), y: npy('<f4', [20, 10, 2], typed('<f4', y)) });
    };
    await refused(data([0.5, 0.5]), { tags: 2 }, /y\[4, 2\] = \[0\.5, 0\.5\] is not one-hot \(one 1, the rest 0\) nor all zero \(padding\)/);
    await refused(data([1, 1]), { tags: 2 }, /y\[4, 2\] = \[1, 1\] is not one-hot/);
    await refused(data([-1, 0]), { tags: 2 }, /y\[4, 2\] = \[-1, 0\] is not one-hot/);
    const padded = await readDataFile(data([0, 0]), { tags: 2 });
    assert.equal(padded.labels[42], -1, 'an all-zero row: padding');
  });

  it('negative ids are padding: no tag there (an all-zero one-hot row)', async () => {
    const data = await readDataFile(
      digitData((_x, y) => (y[3] = -1)),
      { tags: 2 },
    );
    assert.deepEqual(Array.from(data.labels.subarray(3, 6)), [-1, 0, 1]);
    assert.deepEqual(Array.from(oneHotLabels(data).subarray(6, 12)), [0, 0, 1, 0, 0, 1]);
  });

  it('non-finite inputs, and ids that are negative, fractional or outside the Embedding', async () => {
    await refused(
      digitData((x) => (x[42] = NaN)),
      { tags: 2 },
      /^--data .*: x\[4, 2, 0\] = nan: inputs must be finite numbers/,
    );
    await refused(
      digitData((x) => (x[9] = Infinity)),
      { tags: 2 },
      /x\[0, 9, 0\] = Infinity: inputs must be finite/,
    );
    const ids = (v: number) => {
      const x = Array.from({ length: 200 }, (_, i) => 1 + (i % 9));
      x[57] = v;
      return npzFile({ x: npy('<i4', [20, 10], typed('<i4', x)), y: npy('<i4', [20, 10], typed('<i4', Array(200).fill(1))) });
    };
    await refused(ids(-3), { tags: 2 }, /x\[5, 7\] = -3, but x holds integer ids \(0 = padding\); ids must be whole numbers ≥ 0/);
    await refused(ids(10), { tags: 2, vocabulary: 10 }, /x\[5, 7\] = 10, but the model's Embedding reads ids 0\.\.9/);
    assert.equal((await readDataFile(ids(9), { tags: 2, vocabulary: 10 })).n, 20);
  });

  for (const command of ['evaluate', 'predict', 'doctor']) {
    it(`${command} --data refuses in one line, exit 1, before any score`, async () => {
      const dir = tempDir();
      const model = join(dir, 'm');
      if (command === 'evaluate')
        assert.equal((await seqTag(['train', '--epochs', '1', '--samples', '64', '--model-dir', model, '--backend', 'cpu'])).status, 0);
      const data = digitData((_x, y) => (y[173] = 7));
      const fixtureModel = join(import.meta.dirname, '../../test/fixtures/keras/seed-softmax.keras');
      const run = await seqTag([command, '--model', command === 'evaluate' ? model : fixtureModel, '--data', data, '--backend', 'cpu']);
      oneLine(run, 1, /^seq-tag: --data .*data\.npz: y\[17, 3\] = 7, but the model has 2 tags/);
      assert.equal(run.stdout, '');
    });
  }
});

describe('memory is bounded by what the arrays become, counted from their headers', () => {
  it('a header whose shape disagrees with its entry is refused before inflating', async () => {
    const path = npzFile({ x: npy('<f4', [1000, 1000, 1000], new Uint8Array(40)), y: npy('<i4', [1000, 1000], new Uint8Array(40)) }, 6);
    await refused(path, { tags: 2 }, /its x\.npy declares 1000 × 1000 × 1000 <f4 values \(4000000000 bytes\) in an entry of \d+ bytes/);
  });

  it('Python objects and structured arrays are named as such, never unpickled', async () => {
    const pickle = npzFile({ x: npy('|O', [2], new Uint8Array([0x80, 0x04, 0x95])), y: npy('<i4', [2, 1], typed('<i4', [0, 1])) });
    await refused(pickle, {}, /its x\.npy holds Python objects \(a pickle\); seq-tag never unpickles: save numeric arrays/);
    const structured = npzFile({ x: npy('', [2], new Uint8Array(8), "{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (2,), }") });
    await refused(structured, {}, /its x\.npy is a structured array/);
  });

  it('fuzz: 400 crafted headers (dtypes, shapes, orders, sizes, versions, cut files) end in data or one UserError', async () => {
    const random = seedrandom('npz-fuzz');
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    const DTYPES = [
      '<f4',
      '>f4',
      '<f8',
      '<f2',
      '|i1',
      '|u1',
      '|b1',
      '<i2',
      '<u2',
      '<i4',
      '>i4',
      '<u4',
      '<i8',
      '<u8',
      '<c8',
      '<U5',
      '|O',
      '<M8[ns]',
      'f4',
      '<f16',
      '<x9',
    ];
    const DIM = [0, 1, 2, 3, 10, 7, -1, 65536, 2 ** 31, 2 ** 53, 1e20];
    const outcomes = new Map<string, number>();
    for (let round = 0; round < 400; round++) {
      // A third of the rounds are files numpy could write, so that reading them is tested too.
      const clean = random() < 0.3;
      const dtype = clean ? pick(['<f4', '>f4', '<f8', '<f2', '|i1', '|u1', '<i4', '>i4', '<i8']) : pick(DTYPES);
      const shape = clean
        ? [1 + Math.floor(random() * 6), 1 + Math.floor(random() * 6), 1 + Math.floor(random() * 3)]
        : Array.from({ length: pick([0, 1, 2, 2, 3, 3, 4]) }, () => (random() < 0.7 ? 1 + Math.floor(random() * 6) : pick(DIM)));
      const fortran = random() < 0.1 ? 'True' : 'False';
      const header = clean
        ? undefined
        : pick([
            undefined,
            `{'descr': '${dtype}', 'fortran_order': ${fortran}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`,
            `{'descr': '${dtype}', 'shape': (${shape.join(',')}) }`,
            `{'descr': '${dtype}', 'fortran_order': False, 'shape': (${shape.join(', ')}L), }`,
            'x'.repeat(Math.floor(random() * 12000)),
          ]);
      const count = shape.reduce((a, b) => a * b, 1);
      const size = Number(/\d+/.exec(dtype)?.[0] ?? 1);
      const honest = Number.isSafeInteger(count * size) && count * size >= 0 && count * size < 1e5 ? count * size : 16;
      const dataLength = clean || random() < 0.7 ? honest : Math.floor(random() * 64);
      // Clean rounds hold small numbers in every dtype (all bytes 0..3: finite, whole in integer dtypes).
      const data = new Uint8Array(dataLength).map(() => Math.floor(random() * (clean ? 4 : 256)));
      let bytes = npy(dtype, shape, data, header);
      if (!clean && random() < 0.1) bytes[6] = pick([2, 3, 9]);
      if (!clean && random() < 0.1) bytes = bytes.subarray(0, Math.floor(random() * bytes.length));
      const yShape = shape.slice(0, 2);
      const y = npy('<i4', yShape, new Uint8Array(4 * yShape.reduce((a, b) => (Number.isSafeInteger(a * b) && a * b >= 0 && a * b < 1e5 ? a * b : 0), 1)));
      let file = npzFile(clean || random() < 0.5 ? { x: bytes, y } : { x: y.slice(), y: bytes }, pick([0, 6]));
      if (!clean && random() < 0.05) {
        file = join(tempDir(), 'cut.npz');
        writeFileSync(file, zipSync({ 'x.npy': bytes, 'y.npy': y }, { level: 0 }).subarray(0, 100 + Math.floor(random() * 200)));
      }
      try {
        await readDataFile(file, random() < 0.5 ? { tags: pick([2, 3, 6]) } : {});
        outcomes.set('read', (outcomes.get('read') ?? 0) + 1);
      } catch (err) {
        assert.ok(err instanceof UserError, `round ${round}: ${dtype} ${JSON.stringify(shape)} header ${JSON.stringify(header)?.slice(0, 80)}: ${String(err)}`);
        assert.ok(!err.message.includes('\n'), err.message);
        outcomes.set('refused', (outcomes.get('refused') ?? 0) + 1);
      }
    }
    // The fuzz reached both ends: files that read and files refused.
    assert.ok((outcomes.get('read') ?? 0) > 60 && (outcomes.get('refused') ?? 0) > 200, JSON.stringify([...outcomes]));
  });
});

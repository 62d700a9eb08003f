/**
 * Files crafted to hurt (issue #19, "bounded reading"): zip bombs in each entry of a `.keras`,
 * devices behind a model's name, configs that lie about sizes or nest 100k levels deep. Each one is
 * run through the real binary and must end in one line, exit 1, within 5 s and 1 GB of memory.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, constants, deflateRawSync } from 'node:zlib';
import { beforeEach, describe, it } from 'node:test';
import { unzipSync } from 'fflate';
import { oneLine, SEQ_TAG_COMMAND, tempDir } from './helpers.js';
import { npyBytes } from './npy.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/keras/', import.meta.url));
const members = unzipSync(readFileSync(join(FIXTURES, 'seed-softmax.keras')));

interface Entry {
  name: string;
  data: Uint8Array;
  /** Deflated: `data` is a raw deflate stream; `size` and `crc` are what the archive claims. */
  deflated?: { size: number; crc: number };
}

/** A zip as Python's zipfile writes it (local headers, central directory, end record), claims as given. */
function zip(entries: Entry[]): Uint8Array {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const size = e.deflated?.size ?? e.data.length;
    const crc = e.deflated?.crc ?? crc32(e.data);
    const fields = (h: Buffer, at: number) => {
      h.writeUInt16LE(20, at);
      h.writeUInt16LE(e.deflated ? 8 : 0, at + 4);
      h.writeUInt32LE(crc >>> 0, at + 10);
      h.writeUInt32LE(e.data.length, at + 14);
      h.writeUInt32LE(size, at + 18);
      h.writeUInt16LE(name.length, at + 22);
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    fields(local, 4);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    fields(dir, 6);
    dir.writeUInt32LE(offset, 42);
    parts.push(local, name, Buffer.from(e.data));
    central.push(dir, name);
    offset += 30 + name.length + e.data.length;
  }
  const centralBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, centralBytes, end]);
}

/**
 * A deflate stream of `mib` MiB of spaces, a few kB per MiB: one flushed block of 1 MiB repeated
 * (a full flush ends each copy byte-aligned with no back-references), then the final empty block.
 */
function bomb(mib: number): Uint8Array {
  const block = deflateRawSync(Buffer.alloc(1 << 20, 0x20), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  return Buffer.concat([...Array.from({ length: mib }, () => block), Buffer.from([0x03, 0x00])]);
}

const stored = (name: string, data: Uint8Array = members[name]): Entry => ({ name, data });
const honest = (name: string, mib: number): Entry => ({ name, data: bomb(mib), deflated: { size: Math.min(mib * 2 ** 20, 2 ** 32 - 1), crc: 0 } });
/** Claims to inflate to 100 bytes: only a limit enforced while inflating stops it. */
const lying = (name: string, mib: number): Entry => ({ name, data: bomb(mib), deflated: { size: 100, crc: 0 } });

const RSS_REPORT = `process.on('exit', () => { const u = process.resourceUsage(); require('fs').writeFileSync(process.env.SEQ_TAG_RSS_FILE, JSON.stringify([u.maxRSS, (u.userCPUTime + u.systemCPUTime) / 1e6])); });`;

/**
 * Runs seq-tag with its CPU time (the work, whatever else the machine runs: the suite runs three files
 * at a time on 2 cores), its wall time (which a hang shows) and peak resident memory, both reported by
 * the process itself as it exits.
 */
function measured(args: string[]): { status: number | null; stderr: string; stdout: string; seconds: number; wall: number; peakMB: number } {
  const dir = tempDir();
  const preload = join(dir, 'rss.cjs');
  const rssFile = join(dir, 'rss');
  writeFileSync(preload, RSS_REPORT);
  const [node, bin] = SEQ_TAG_COMMAND;
  const start = performance.now();
  const run = spawnSync(node, ['--require', preload, bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', SEQ_TAG_RSS_FILE: rssFile },
    timeout: 60_000,
  });
  const wall = (performance.now() - start) / 1000;
  let [peakMB, seconds] = [NaN, NaN];
  try {
    const [rss, cpu] = JSON.parse(readFileSync(rssFile, 'utf8')) as [number, number];
    [peakMB, seconds] = [rss / 1024, cpu];
  } catch {
    // The process died without exiting (a V8 fatal error): the status check says so.
  }
  return { status: run.status, stderr: run.stderr, stdout: run.stdout, seconds, wall, peakMB };
}

/** Reported in the test output (`# …`), for the README's figures. */
let report: (message: string) => void = () => {};

function refusedFast(args: string[], pattern: RegExp): void {
  const run = measured(args);
  report(`${run.seconds.toFixed(2)} s of CPU (${run.wall.toFixed(2)} s), peak ${run.peakMB.toFixed(0)} MB: ${run.stderr.trim().slice(0, 100)}`);
  assert.equal(run.status, 1, `exit code ${run.status}; stderr: ${run.stderr}`);
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line, got: ${run.stderr}`);
  assert.match(lines[0], pattern);
  assert.ok(run.seconds < 5, `took ${run.seconds.toFixed(1)} s of CPU`);
  assert.ok(run.wall < 30, `took ${run.wall.toFixed(1)} s`);
  assert.ok(run.peakMB < 1024, `peak memory ${run.peakMB.toFixed(0)} MB`);
}

function kerasFile(entries: Entry[]): string {
  const path = join(tempDir(), 'tagger.keras');
  writeFileSync(path, zip(entries));
  return path;
}

const predict = (path: string) => ['predict', '--model', path, '--n', '1', '--seed', '1', '--backend', 'cpu'];

describe('hostile model files: one line, exit 1, under 5 s and 1 GB', () => {
  beforeEach((t) => {
    report = (message) => (t as unknown as { diagnostic(m: string): void }).diagnostic(message);
  });

  it('a config.json that inflates to 2 GiB (honest or lying about its size)', () => {
    for (const entry of [honest('config.json', 2048), lying('config.json', 2048)]) {
      const path = kerasFile([stored('metadata.json'), entry, stored('model.weights.h5')]);
      refusedFast(predict(path), /tagger\.keras is not a readable Keras model \(its config\.json inflates to more than 16 MiB, the most seq-tag reads\)/);
    }
  });

  it('a weights entry that inflates to 4 GiB', () => {
    const path = kerasFile([stored('metadata.json'), stored('config.json'), lying('model.weights.h5', 4096)]);
    refusedFast(predict(path), /is not a readable Keras model \(its model\.weights\.h5 inflates to more than 256 MiB, the most seq-tag reads\)/);
  });

  it('a bomb in an entry a model does not need is never inflated: the model loads', () => {
    const path = kerasFile([stored('metadata.json'), stored('config.json'), stored('model.weights.h5'), lying('assets/notes.txt', 4096)]);
    const run = measured(predict(path));
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /LSTM 16 → TimeDistributed\(Dense\(2, softmax\)\)/);
    assert.ok(run.seconds < 5 && run.peakMB < 1024, `${run.seconds} s, ${run.peakMB} MB`);
  });

  it('a config claiming LSTM(units=30000) is refused before anything is built', () => {
    const config = new TextDecoder().decode(members['config.json']).replace('"units": 16', '"units": 30000');
    const path = kerasFile([stored('metadata.json'), stored('config.json', new TextEncoder().encode(config)), stored('model.weights.h5')]);
    refusedFast(predict(path), /cannot be used: its config declares about 3600 million parameters \(14\.4 GB\); seq-tag runs models of up to 32 million/);
  });

  it('a config that lies about its sizes within the limit (units 600 in a file of 16)', () => {
    const config = new TextDecoder().decode(members['config.json']).replace('"units": 16', '"units": 600');
    const path = kerasFile([stored('metadata.json'), stored('config.json', new TextEncoder().encode(config)), stored('model.weights.h5')]);
    refusedFast(predict(path), /is not a readable Keras model \(its config declares about 1,4\d\d,\d{3} parameters but its weights hold 1,186 values\)/);
  });

  it('a functional graph whose nodes can never be built (its InputLayer made a Masking, found by fuzzing; TensorFlow.js loops forever on it)', () => {
    const members = unzipSync(readFileSync(join(FIXTURES, 'pos-functional.keras')));
    const config = JSON.parse(new TextDecoder().decode(members['config.json']));
    config.config.layers[0].class_name = 'Masking';
    const entries = Object.entries(members).map(([name, data]) => ({
      name,
      data: name === 'config.json' ? new TextEncoder().encode(JSON.stringify(config)) : data,
    }));
    refusedFast(predict(kerasFile(entries)), /its layer embedding\w* reads node 0 of input_layer\w*, which no input ever reaches/);
  });

  it('450 seeded edits of a functional graph: each loads or is refused in one line; none hangs or throws anything else', () => {
    const script = fileURLToPath(new URL('./fixtures/fuzz-graph.js', import.meta.url));
    const run = spawnSync(process.execPath, [script, join(FIXTURES, 'pos-functional.keras'), 'ops', '450'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, `status ${run.status} (null: killed at the time limit, a hang); ${run.stderr}`);
    const outcome = JSON.parse(run.stdout) as { loaded: number; refused: number; unexpected: string[] };
    assert.deepEqual(outcome.unexpected, []);
    assert.equal(outcome.loaded + outcome.refused, 450);
    assert.ok(outcome.loaded > 0 && outcome.refused > 0, JSON.stringify(outcome));
  });

  it('a config nested 100,000 levels deep', () => {
    const deep = `{"class_name": "Sequential", "config": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const path = kerasFile([stored('metadata.json'), stored('config.json', new TextEncoder().encode(deep)), stored('model.weights.h5')]);
    refusedFast(predict(path), /is not a readable Keras model \(its config\.json nests deeper than 64 levels, which no Keras model does\)/);
  });

  it('/dev/zero and /dev/urandom behind .keras and .h5 names, and a named pipe', () => {
    const dir = tempDir();
    for (const [device, name] of [
      ['/dev/zero', 'model.keras'],
      ['/dev/urandom', 'model.h5'],
    ]) {
      symlinkSync(device, join(dir, name));
      refusedFast(predict(join(dir, name)), new RegExp(`${name} is not a regular file \\(a device, pipe or socket\\); --model takes a model folder`));
    }
    const fifo = join(dir, 'pipe.keras');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    refusedFast(['evaluate', '--model', fifo, '--backend', 'cpu'], /pipe\.keras is not a regular file/);
  });

  it('a tfjs folder whose weights file is /dev/zero', () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'model.json'),
      JSON.stringify({ modelTopology: { class_name: 'Sequential', config: { layers: [] } }, weightsManifest: [{ paths: ['./w.bin'], weights: [] }] }),
    );
    symlinkSync('/dev/zero', join(dir, 'w.bin'));
    refusedFast(predict(dir), /is unreadable \(\.\/w\.bin is not a regular file \(a device, pipe or socket\)\)/);
  });
});

describe('hostile data files (issue #31): what the arrays become is counted from their headers', () => {
  beforeEach((t) => {
    report = (message) => (t as unknown as { diagnostic(m: string): void }).diagnostic(message);
  });
  /** An honest deflated `.npy` entry: the header in a stored block, then `mib` MiB of zero ids. */
  function zeroIds(name: string, shape: number[], mib: number): Entry {
    const head = npyBytes('|i1', shape, new Uint8Array(0));
    const stored = Buffer.concat([Buffer.from([0, head.length, 0, ~head.length & 0xff, 0xff]), head]);
    const zeros = deflateRawSync(Buffer.alloc(1 << 20), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
    const data = Buffer.concat([stored, ...Array.from({ length: mib }, () => zeros), Buffer.from([0x03, 0x00])]);
    return { name, data, deflated: { size: head.length + mib * 2 ** 20, crc: 0 } };
  }

  it('an npz of 1 MB whose 200 MiB int8 ids would become 2.5 GiB: one line, < 2 s of work, < 300 MB', () => {
    const shape = [20_971_520, 10];
    const path = join(tempDir(), 'huge.npz');
    writeFileSync(path, zip([zeroIds('x.npy', shape, 200), zeroIds('y.npy', shape, 200)]));
    const run = measured(['evaluate', '--model', join(FIXTURES, 'seed-softmax.keras'), '--data', path, '--backend', 'cpu']);
    report(`${run.seconds.toFixed(2)} s of CPU (${run.wall.toFixed(2)} s), peak ${run.peakMB.toFixed(0)} MB: ${run.stderr.trim().slice(0, 100)}`);
    oneLine(
      run,
      1,
      /--data .*huge\.npz would take 2\.5 GiB in memory \(x 20,971,520 × 10 and y 20,971,520 × 10 as float32, and their tag ids\), more than the 1\.0 GiB seq-tag reads; split it into smaller files/,
    );
    assert.ok(run.peakMB < 300, `peak memory ${run.peakMB.toFixed(0)} MB`);
    assert.ok(run.seconds < 2 + 0.7 /* the process's own start-up */, `took ${run.seconds.toFixed(2)} s of CPU`);
  });
});

/**
 * TensorBoard event files, written as TensorFlow writes them, without TensorFlow: TFRecord framing
 * (length, masked CRC-32C of the length, the record, masked CRC-32C of the record) around `Event`
 * protobufs (tensorflow/core/util/event.proto) whose `Summary` holds scalar `simple_value`s.
 * Each record is appended with one write, so a killed run leaves a file TensorBoard reads up to its
 * last whole record. Layout and names follow keras.callbacks.TensorBoard: `<logdir>/train` and
 * `<logdir>/validation`, tags `epoch_loss`, `epoch_accuracy`, `epoch_learning_rate`.
 */
import { accessSync, appendFileSync, constants, existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describeFsError, UserError } from '../errors.js';

// ---------------------------------------------------------------------------------------------
// CRC-32C (Castagnoli), as TFRecord uses it, masked.

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C of `bytes` (crc32c("123456789") = 0xe3069283). */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) crc = CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotated right by 15 bits, plus a constant. */
export function maskedCrc(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

/** One TFRecord: uint64 length, masked CRC of the length, the data, masked CRC of the data (little-endian). */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc(data), 12 + data.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The few protobuf fields an Event needs, encoded by hand.

function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v ? byte | 0x80 : byte);
  } while (v);
  return out;
}

const lengthDelimited = (field: number, bytes: Uint8Array | number[]) => [(field << 3) | 2, ...varint(bytes.length), ...bytes];

/** Summary.Value { tag = 1; simple_value = 2 (float) } */
function scalarValue(tag: string, value: number): number[] {
  const f = Buffer.alloc(4);
  f.writeFloatLE(value);
  return [...lengthDelimited(1, Buffer.from(tag, 'utf8')), (2 << 3) | 5, ...f];
}

/**
 * Summary.Value { tag = 1; metadata = 9 { plugin_data = 1 { plugin_name = 1: "text" } }; tensor = 8
 * { dtype = 1: DT_STRING (7); tensor_shape = 2 {}; string_val = 8 } }: what tf.summary.text writes.
 */
function textValue(tag: string, text: string): number[] {
  const metadata = lengthDelimited(1, lengthDelimited(1, Buffer.from('text', 'utf8')));
  const tensor = [(1 << 3) | 0, 7, ...lengthDelimited(2, []), ...lengthDelimited(8, Buffer.from(text, 'utf8'))];
  return [...lengthDelimited(1, Buffer.from(tag, 'utf8')), ...lengthDelimited(9, metadata), ...lengthDelimited(8, tensor)];
}

type EventContent = { fileVersion: string } | { scalars: Record<string, number> } | { text: { tag: string; value: string } };

/** Event { wall_time = 1 (double); step = 2 (int64); file_version = 3 | summary = 5 } */
export function eventBytes(wallTime: number, step: number, content: EventContent): Uint8Array {
  const time = Buffer.alloc(8);
  time.writeDoubleLE(wallTime);
  const head = [(1 << 3) | 1, ...time, (2 << 3) | 0, ...varint(step)];
  if ('fileVersion' in content) return Uint8Array.from([...head, ...lengthDelimited(3, Buffer.from(content.fileVersion, 'utf8'))]);
  if ('text' in content) return Uint8Array.from([...head, ...lengthDelimited(5, lengthDelimited(1, textValue(content.text.tag, content.text.value)))]);
  const values = Object.entries(content.scalars).flatMap(([tag, value]) => lengthDelimited(1, scalarValue(tag, value)));
  return Uint8Array.from([...head, ...lengthDelimited(5, values)]);
}

// ---------------------------------------------------------------------------------------------

/** One run folder's event file, opened with its file-version record, appended record by record. */
export class EventFile {
  readonly path: string;

  constructor(dir: string, now = Date.now()) {
    mkdirSync(dir, { recursive: true });
    // TensorBoard finds files by "tfevents" in the name; the suffix keeps two writers apart.
    this.path = join(dir, `events.out.tfevents.${Math.floor(now / 1000)}.${hostname()}.${process.pid}.${Math.floor(Math.random() * 1e9)}.v2`);
    this.append(eventBytes(now / 1000, 0, { fileVersion: 'brain.Event:2' }));
  }

  /** A text summary at `step` (TensorBoard's Text tab). */
  text(step: number, tag: string, value: string, now = Date.now()): void {
    this.append(eventBytes(now / 1000, step, { text: { tag, value } }));
  }

  /** Scalars at `step`: one record, one write. */
  scalars(step: number, values: Record<string, number>, now = Date.now()): void {
    this.append(eventBytes(now / 1000, step, { scalars: values }));
  }

  private append(event: Uint8Array): void {
    appendFileSync(this.path, tfRecord(event));
  }
}

/** What seq-tag's epoch records become in TensorBoard (Keras's tags; steps are seq-tag's 1-based epochs). */
export interface EpochScalars {
  epoch: number;
  loss: number;
  lr: number;
  validation?: { loss: number; tokenAccuracy: number; exactMatch: number };
}

/**
 * `train --logdir DIR`: the run's epochs as keras.callbacks.TensorBoard lays them out, `DIR/train`
 * (epoch_loss, epoch_learning_rate) and `DIR/validation` (epoch_loss, epoch_accuracy: token accuracy,
 * epoch_exact_match), one new event file per run (a resumed run adds one; TensorBoard joins them).
 */
export class TrainingLog {
  private readonly train: EventFile;
  private validation?: EventFile;

  /** Opens the train run's file at once, so that an unusable DIR is said before training starts. */
  constructor(readonly logdir: string) {
    try {
      this.train = new EventFile(join(logdir, 'train'));
    } catch (err) {
      throw unwritable(logdir, err);
    }
  }

  /**
   * The batch where training diverged, as what it was: `epoch_loss` at that epoch is the loss the
   * guard saw (NaN, or the wasm backend's clip bound), and a `divergence` text says where and why.
   */
  diverged(epoch: number, loss: number, text: string): void {
    this.train.scalars(epoch, { epoch_loss: loss });
    this.train.text(epoch, 'divergence', text);
  }

  epoch(e: EpochScalars): void {
    this.train.scalars(e.epoch, { epoch_loss: e.loss, epoch_learning_rate: e.lr });
    if (!e.validation) return;
    const { loss, tokenAccuracy, exactMatch } = e.validation;
    (this.validation ??= new EventFile(join(this.logdir, 'validation'))).scalars(e.epoch, {
      epoch_loss: loss,
      epoch_accuracy: tokenAccuracy,
      epoch_exact_match: exactMatch,
    });
  }
}

/** Makes `logdir` (for sweep and tune), or says in one line why it cannot be written. */
export function openLogdir(logdir: string): string {
  try {
    mkdirSync(logdir, { recursive: true });
    accessSync(logdir, constants.W_OK);
  } catch (err) {
    throw unwritable(logdir, err);
  }
  return logdir;
}

function unwritable(logdir: string, err: unknown): UserError {
  return new UserError(`--logdir ${logdir}: cannot write TensorBoard logs there: ${describeFsError(err)}; give a folder you can write to`);
}

/**
 * Writes to the logs while they work: the logs are a view of the run, so the first failure (a full
 * disk) stops them, not the training or the sweep, and `warn` says so once, naming where.
 */
export function guardedLog<T>(logs: T | undefined, warn: (text: string) => void): (where: string, write: (logs: T) => void) => void {
  return (where, write) => {
    if (logs === undefined) return;
    try {
      write(logs);
    } catch (err) {
      logs = undefined;
      warn(`TensorBoard logging stopped at ${where}: ${err instanceof UserError ? err.message : describeFsError(err)}`);
    }
  };
}

/** The logger sweep and tune call with each new record (see guardedLog). */
export function runLogger(logdir: string | undefined, warn: (text: string) => void): (run: Parameters<typeof logRun>[1]) => void {
  const log = guardedLog(logdir === undefined ? undefined : openLogdir(logdir), warn);
  return (run) => log(`${run.label} · seed ${run.seed}`, (dir) => logRun(dir, run));
}

/** A label as a folder name: "answer 3: clipnorm 1.0" → "answer_3_clipnorm_1.0". */
export function runFolderName(label: string): string {
  return label.replace(/[^A-Za-z0-9._=+-]+/g, '_').replace(/^_+|_+$/g, '') || 'run';
}

/**
 * A finished sweep or tune run in `<logdir>/<label>/seed-<n>/{train,validation}`, all its epochs
 * at once (a run's record arrives whole). A run folder already there is left as it is, so running
 * the same sweep again (it resumes) writes only the runs not logged yet. Returns whether it wrote.
 */
export function logRun(
  logdir: string,
  run: { label: string; seed: number; epochs: { epoch: number; loss: number; lr?: number; validation?: EpochScalars['validation'] }[]; lr: number },
): boolean {
  const dir = join(logdir, runFolderName(run.label), `seed-${run.seed}`);
  if (existsSync(dir)) return false;
  const log = new TrainingLog(dir);
  for (const e of run.epochs) log.epoch({ ...e, lr: e.lr ?? run.lr });
  return true;
}

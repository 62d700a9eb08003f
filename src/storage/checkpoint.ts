import { createHash } from 'node:crypto';
import { z } from 'zod';
import { configSchema } from '../config/hyperparameters.js';
import { BACKEND_NAMES, type BackendName, type Config } from '../config/config.js';
import { divergenceSchema, epochSchema, numberedFromOne } from '../config/records.js';
import { reviveNumber, spellNumber } from '../shared/format.js';
import type { TrainingState } from '../config/records.js';
import { LIMITS, nestsDeeperThan } from '../shared/limits.js';

/**
 * A run's checkpoint, one file: written after every completed epoch (atomically, ./files.ts), read
 * by `train --resume`. Layout: the magic, a little-endian u32 format version, a u32 header length,
 * the JSON header (config, progress, counters, the arrays' names, types and lengths), padding to 8
 * bytes, the arrays one after another, each 8-byte aligned, then the SHA-256 of all that came
 * before: an edit anywhere, header or arrays, is found before anything is read from the file.
 */
export const CHECKPOINT_FILE = 'checkpoint.seqtag';
const MAGIC = 'SEQTAGCK';
/** 2: the digest covers the whole file (format 1 covered only the arrays, so its header could be edited unseen). */
const FORMAT = 2;
const PREAMBLE = MAGIC.length + 8;
const DIGEST = 32;

export interface Checkpoint {
  config: Config;
  /** The backend that wrote it: the layers engine continues bit for bit only on the same one. */
  backend: BackendName;
  savedAt: string;
  seqTagVersion: string;
  state: TrainingState;
  /** The completed epochs at which this run was resumed before. */
  resumes?: number[];
  /** Threads of the fused float32 engine the run trained on: its sums of half-batch gradients depend on them. */
  threads?: number;
}

const DTYPES = { float32: Float32Array, float64: Float64Array } as const;
type Dtype = keyof typeof DTYPES;
const align = (n: number) => Math.ceil(n / 8) * 8;

const headerSchema = z
  .object({
    config: configSchema,
    backend: z.enum(BACKEND_NAMES),
    savedAt: z.string().max(40),
    seqTagVersion: z.string().max(40),
    resumes: z.array(z.number().int().min(0)).max(100_000).optional(),
    threads: z.number().int().min(1).max(64).optional(),
    epochs: z.array(epochSchema).max(100_000),
    seconds: z.number().min(0),
    divergence: divergenceSchema.optional(),
    earlyStopping: z
      .object({
        best: z.number(),
        bestEpoch: z.number().int().min(0),
        wait: z.number().int().min(0),
        stoppedAfter: z.number().int().min(1).optional(),
      })
      .strict()
      .optional(),
    plateau: z
      .object({ best: z.number(), wait: z.number().int().min(0), lr: z.number().min(0) })
      .strict()
      .optional(),
    arrays: z.array(z.object({ name: z.string().max(200), dtype: z.enum(['float32', 'float64']), length: z.number().int().min(0) }).strict()).max(100_000),
  })
  .strict();

/** The checkpoint as bytes. */
export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  const { arrays, ...progress } = c.state;
  const layout = arrays.map((a) => ({ name: a.name, dtype: (a.values instanceof Float64Array ? 'float64' : 'float32') as Dtype, length: a.values.length }));
  const payload = new Uint8Array(arrays.reduce((sum, a) => sum + align(a.values.byteLength), 0));
  let offset = 0;
  for (const a of arrays) {
    payload.set(new Uint8Array(a.values.buffer, a.values.byteOffset, a.values.byteLength), offset);
    offset += align(a.values.byteLength);
  }
  const header = {
    config: c.config,
    backend: c.backend,
    savedAt: c.savedAt,
    seqTagVersion: c.seqTagVersion,
    resumes: c.resumes,
    threads: c.threads,
    ...progress,
    arrays: layout,
  };
  const json = Buffer.from(JSON.stringify(header, spellNumber));
  const start = align(PREAMBLE + json.byteLength);
  const bytes = new Uint8Array(start + payload.byteLength + DIGEST);
  bytes.set(Buffer.from(MAGIC));
  const view = new DataView(bytes.buffer);
  view.setUint32(MAGIC.length, FORMAT, true);
  view.setUint32(MAGIC.length + 4, json.byteLength, true);
  bytes.set(json, PREAMBLE);
  bytes.set(payload, start);
  bytes.set(sha256(bytes.subarray(0, bytes.length - DIGEST)), bytes.length - DIGEST);
  return bytes;
}

const sha256 = (bytes: Uint8Array): Uint8Array => createHash('sha256').update(bytes).digest();

/** Raised for a checkpoint whose bytes are not the ones seq-tag wrote (edited, or damaged on disk). */
export class AlteredCheckpoint extends Error {}

/** Raised for bytes that are not a whole checkpoint of this format; the message says what is wrong. */
export class BadCheckpoint extends Error {}

/** Reads a checkpoint written by encodeCheckpoint; anything else (torn, altered, foreign) is a BadCheckpoint. */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  if (bytes.byteLength < PREAMBLE || Buffer.from(bytes.subarray(0, MAGIC.length)).toString('latin1') !== MAGIC)
    throw new BadCheckpoint('not a seq-tag checkpoint');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const format = view.getUint32(MAGIC.length, true);
  if (format === 1) throw new BadCheckpoint('format 1, written by an earlier seq-tag without a checksum over its header');
  if (format !== FORMAT) throw new BadCheckpoint(`format ${format}, which this seq-tag does not read`);
  // The whole file against its digest first: nothing of an altered file is trusted, not even its lengths.
  const body = bytes.subarray(0, Math.max(PREAMBLE, bytes.byteLength - DIGEST));
  if (bytes.byteLength < PREAMBLE + DIGEST || Buffer.compare(sha256(body), bytes.subarray(body.byteLength)) !== 0) throw new AlteredCheckpoint();
  const length = view.getUint32(MAGIC.length + 4, true);
  if (length > LIMITS.jsonBytes || PREAMBLE + length > body.byteLength) throw new BadCheckpoint('its header is cut short');
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(bytes.subarray(PREAMBLE, PREAMBLE + length)).toString('utf8'), reviveNumber);
  } catch {
    throw new BadCheckpoint('its header is not JSON');
  }
  if (nestsDeeperThan(data, LIMITS.jsonDepth)) throw new BadCheckpoint(`its header nests deeper than ${LIMITS.jsonDepth} levels`);
  const parsed = headerSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BadCheckpoint(`${issue.path.join('.') || 'header'}: ${issue.message}`);
  }
  const { arrays: layout, config, backend, savedAt, seqTagVersion, resumes, threads, ...progress } = parsed.data;
  if (!numberedFromOne(progress.epochs)) throw new BadCheckpoint('its epochs are not numbered 1, 2, …');
  const start = align(PREAMBLE + length);
  const payload = body.subarray(start);
  const expected = layout.reduce((sum, a) => sum + align(a.length * DTYPES[a.dtype].BYTES_PER_ELEMENT), 0);
  if (payload.byteLength !== expected) throw new BadCheckpoint(`its arrays have ${payload.byteLength} bytes, the header says ${expected}`);
  let offset = 0;
  const arrays = layout.map((a) => {
    const Type = DTYPES[a.dtype];
    // A copy: the file's bytes need not be aligned for a typed-array view.
    const values = new Type(payload.slice(offset, offset + a.length * Type.BYTES_PER_ELEMENT).buffer);
    offset += align(values.byteLength);
    return { name: a.name, values };
  });
  // zod's copy of the config: rows added after 0.1 are filled in with their defaults.
  return {
    config: config as Config,
    backend,
    savedAt,
    seqTagVersion,
    resumes,
    ...(threads === undefined ? {} : { threads }),
    state: { ...progress, arrays } as TrainingState,
  };
}

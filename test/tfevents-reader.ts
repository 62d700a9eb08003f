/**
 * A reader of TensorBoard event files for the tests, written apart from seq-tag's writer (its own
 * protobuf decoding by field numbers, not the writer's schema), so that the two cannot share a mistake.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { maskedCrc } from '../src/report/tfevents.js';

/** The whole records of a TFRecord file, each CRC checked; a torn last record (a crash) is left out. */
export function records(file: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + 12 <= file.length;) {
    const length = Number(file.readBigUInt64LE(at));
    assert.equal(file.readUInt32LE(at + 8), maskedCrc(file.subarray(at, at + 8)), `length CRC of the record at byte ${at}`);
    if (at + 12 + length + 4 > file.length) break;
    const data = file.subarray(at + 12, at + 12 + length);
    assert.equal(file.readUInt32LE(at + 12 + length), maskedCrc(data), `data CRC of the record at byte ${at}`);
    out.push(data);
    at += 12 + length + 4;
  }
  return out;
}

/** Protobuf fields of a message: number → values (numbers for varints, Buffers otherwise). */
export function fields(message: Buffer): Map<number, (number | Buffer)[]> {
  const out = new Map<number, (number | Buffer)[]>();
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const b = message[at++];
      value += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return value;
    }
  };
  const take = (size: number) => message.subarray(at, (at += size));
  while (at < message.length) {
    const key = varint();
    const wire = key & 7;
    const value = wire === 0 ? varint() : wire === 1 ? take(8) : wire === 5 ? take(4) : take(varint());
    out.set(key >>> 3, [...(out.get(key >>> 3) ?? []), value]);
  }
  return out;
}

/** The event files of a run folder (a resumed run adds one). */
function eventFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('events.out.tfevents.'))
    .map((f) => join(dir, f));
}

/** Every Summary.Value of an event file, its fields decoded, with its event's step. */
function summaryValues(path: string): { step: number; value: Map<number, (number | Buffer)[]> }[] {
  return records(readFileSync(path)).flatMap((record) => {
    const event = fields(record);
    const summary = event.get(5)?.[0] as Buffer | undefined;
    const step = (event.get(2)?.[0] as number | undefined) ?? 0;
    return summary ? (fields(summary).get(1) as Buffer[]).map((value) => ({ step, value: fields(value) })) : [];
  });
}

/** The plugin a Summary.Value's metadata names ('text', 'hparams'), and that plugin's content. */
function pluginOf(value: Map<number, (number | Buffer)[]>): { name?: string; content?: Buffer } {
  if (!value.has(9)) return {};
  const plugin = fields(fields(value.get(9)![0] as Buffer).get(1)![0] as Buffer);
  return { name: (plugin.get(1)![0] as Buffer).toString(), content: plugin.get(2)?.[0] as Buffer | undefined };
}

/** The scalars of an event file: step → tag → value. */
export function scalarsOf(path: string): Map<number, Record<string, number>> {
  const out = new Map<number, Record<string, number>>();
  for (const { step, value: v } of summaryValues(path)) {
    if (!v.has(2)) continue; // a text or HParams summary
    out.set(step, { ...out.get(step), [(v.get(1)![0] as Buffer).toString()]: (v.get(2)![0] as Buffer).readFloatLE() });
  }
  return out;
}

/** A run's HParams session, from the event files in `dir` itself: its flag values, group, and how it ended (TensorBoard's Status number). */
export function sessionOf(dir: string): { hparams: Record<string, number | string | boolean>; group?: string; status?: number } {
  const hparams: Record<string, number | string | boolean> = {};
  let status: number | undefined;
  let group: string | undefined;
  for (const { value: v } of eventFiles(dir).flatMap(summaryValues)) {
    if (v.has(2)) continue; // a scalar: a session at the logdir's root holds its metrics too
    const plugin = pluginOf(v);
    assert.equal(plugin.name, 'hparams');
    const data = fields(plugin.content!);
    const start = fields((data.get(3)?.[0] as Buffer) ?? Buffer.alloc(0));
    if (start.has(4)) group = (start.get(4)![0] as Buffer).toString();
    for (const entry of (start.get(1) ?? []) as Buffer[]) {
      const [key, value] = [fields(entry).get(1)![0] as Buffer, fields(fields(entry).get(2)![0] as Buffer)];
      const number = value.get(2)?.[0] as Buffer | undefined;
      hparams[key.toString()] = number ? number.readDoubleLE() : value.has(3) ? (value.get(3)![0] as Buffer).toString() : value.get(4)![0] === 1;
    }
    if (data.has(4)) status = (fields(data.get(4)![0] as Buffer).get(1)?.[0] as number | undefined) ?? 0;
  }
  return { hparams, group, status };
}

/** The HParams experiment summary in `dir`'s event files: its hyperparameters' names and its metrics (group, tag). */
export function experimentOf(dir: string): { hparams: string[]; metrics: { group: string; tag: string }[] } | undefined {
  for (const { value: v } of eventFiles(dir).flatMap(summaryValues)) {
    if (v.has(2) || (v.get(1)![0] as Buffer).toString() !== '_hparams_/experiment') continue;
    const experiment = fields(fields(pluginOf(v).content!).get(2)![0] as Buffer);
    const text = (b: unknown) => (b as Buffer | undefined)?.toString() ?? '';
    return {
      hparams: ((experiment.get(4) ?? []) as Buffer[]).map((info) => text(fields(info).get(1)?.[0])),
      metrics: ((experiment.get(5) ?? []) as Buffer[]).map((info) => {
        const name = fields(fields(info).get(1)![0] as Buffer);
        return { group: text(name.get(1)?.[0]), tag: text(name.get(2)?.[0]) };
      }),
    };
  }
  return undefined;
}

/** The one event file of a run folder. */
export function eventFile(dir: string): string {
  const files = eventFiles(dir);
  assert.equal(files.length, 1, `${dir}: one event file`);
  return files[0];
}

/** The text summaries of an event file: [tag, text]. */
export function textsOf(path: string): string[][] {
  return summaryValues(path)
    .filter(({ value: v }) => v.has(8) && pluginOf(v).name === 'text')
    .map(({ value: v }) => [(v.get(1)![0] as Buffer).toString(), (fields(v.get(8)![0] as Buffer).get(8)![0] as Buffer).toString()]);
}

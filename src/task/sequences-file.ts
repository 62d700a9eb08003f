import { datasetOf, parseDigitSequence, type Dataset } from './data.js';
import { concat } from './lines.js';

/** A line of a sequences file that is not 10 digits: its number (1-based) and text. */
export class BadSequenceLine extends Error {
  constructor(
    readonly line: number,
    readonly text: string,
  ) {
    super(`line ${line} is not 10 digits 0-9`);
  }
}

/** The longest line read as a possible sequence: 10 digits with separators fit in far fewer bytes. */
const MAX_LINE = 1024;

const isBlankByte = (b: number) => b === 0x20 || b === 0x09 || b === 0x0d;

/**
 * The sequences of a stream of text, one per line ("4 0 2 8 5 6 1 3 3 7", "4028561337" or
 * comma-separated, as --digits takes them; blank lines and lines starting with # are skipped), `size`
 * at a time, each labelled as the generator would (datasetOf), so scores mean the same as on
 * generated data. Memory is bounded by the batch whatever the stream's length (blank lines cost
 * nothing). A bad line ends it with BadSequenceLine, after the batch of the good lines before it.
 */
export async function* sequenceBatches(chunks: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Dataset> {
  let rows: Int32Array[] = [];
  let lineNumber = 0;
  let pending: Uint8Array[] = [];
  let pendingLength = 0;
  const decoder = new TextDecoder();
  /** The line `bytes` (without its newline): a sequence added to `rows`, a skip, or the bad line. */
  const take = (bytes: Uint8Array): BadSequenceLine | undefined => {
    if (bytes.every(isBlankByte)) return undefined;
    const raw = decoder.decode(bytes.subarray(0, MAX_LINE)).replace(/\r$/, '');
    const line = raw.trim();
    if (line.startsWith('#')) return undefined;
    const digits = bytes.length > MAX_LINE ? undefined : parseDigitSequence(line);
    if (!digits) return new BadSequenceLine(lineNumber, raw);
    rows.push(digits);
    return undefined;
  };
  const batch = () => {
    const data = datasetOf(rows);
    rows = [];
    return data;
  };
  for await (const chunk of chunks) {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] !== 0x0a) continue;
      lineNumber++;
      if (i > start || pendingLength) {
        const bad = take(pendingLength ? concat([...pending, chunk.subarray(start, i)]) : chunk.subarray(start, i));
        pending = [];
        pendingLength = 0;
        if (bad) {
          if (rows.length) yield batch();
          throw bad;
        }
        if (rows.length === size) yield batch();
      }
      start = i + 1;
    }
    // The start of the next line; past MAX_LINE only its first bytes are kept (it is a bad line).
    if (start < chunk.length && pendingLength <= MAX_LINE) {
      pending.push(chunk.slice(start));
      pendingLength += chunk.length - start;
    } else if (start < chunk.length) pendingLength += chunk.length - start;
  }
  if (pendingLength) {
    lineNumber++;
    const bad = take(concat(pending));
    if (bad) {
      if (rows.length) yield batch();
      throw bad;
    }
  }
  if (rows.length) yield batch();
}

import { datasetOf, parseDigitSequence, type Dataset } from './data.js';

/** A line of a sequences file that is not 10 digits: its number (1-based) and text. */
export class BadSequenceLine extends Error {
  constructor(
    readonly line: number,
    readonly text: string,
  ) {
    super(`line ${line} is not 10 digits 0-9`);
  }
}

/**
 * The sequences of a text file, one per line ("4 0 2 8 5 6 1 3 3 7", "4028561337" or comma-separated,
 * as --digits takes them); blank lines and lines starting with # are skipped. Each is labelled as the
 * generator would (datasetOf), so scores mean the same as on generated data.
 */
export function parseSequencesText(text: string): Dataset {
  const rows: Int32Array[] = [];
  text.split(/\r?\n/).forEach((raw, k) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const digits = parseDigitSequence(line);
    if (!digits) throw new BadSequenceLine(k + 1, raw);
    rows.push(digits);
  });
  return datasetOf(rows);
}

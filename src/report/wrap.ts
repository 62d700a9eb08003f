/**
 * Fitting printed text into a terminal's width: long lines break at word boundaries, and each
 * continuation starts under the line's label ("  ✓ gradient global norm   1.17 to 1.42 …" continues
 * under "1.17"), so a checklist stays a checklist at 80 columns.
 */

// eslint-disable-next-line no-control-regex -- SGR colour codes are what is measured around
const ANSI = /\x1b\[[0-9;]*m/g;

/** Visible length of a possibly coloured string. */
export function visibleLength(text: string): number {
  return text.replace(ANSI, '').length;
}

/**
 * The width to fit a stream's text into: the terminal's; else a positive `COLUMNS`; else 80
 * (a file or a pipe, as `less`, `git` and most tools assume).
 */
export function columnsFor(stream: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv = process.env): number {
  if (stream.isTTY === true && stream.columns) return stream.columns;
  const fromEnv = Number(env.COLUMNS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 80;
}

/** Every line of `text` fitted into `columns` (see wrapLine). */
export function wrapText(text: string, columns: number): string {
  if (!Number.isFinite(columns)) return text;
  return text
    .split('\n')
    .map((line) => wrapLine(line, columns))
    .join('\n');
}

/**
 * Where a line's continuations start: under the text after its label (the first run of two or
 * more spaces after its first word), or under its own indent when it has no label. A label column
 * past 60% of the width would leave a ribbon of text, so continuations then start 6 columns in.
 */
export function hangingIndent(line: string, columns: number): number {
  const plainLine = line.replace(ANSI, '');
  const lead = plainLine.length - plainLine.trimStart().length;
  const label = /\S {2,}(?=\S)/.exec(plainLine.slice(lead));
  const hang = label ? lead + label.index + label[0].length : lead;
  return hang <= columns * 0.6 ? hang : Math.min(6, hang);
}

/** Joins the words of a command to copy into one (U+00A0 between them), so no break splits it. */
const BOUND = '\u00a0';

/** Units printed after a number, kept on its line (joined by U+202F: unlike a command, such a line may still be cut). */
const UNIT = /^(s|ms|min|h|nats|[kKMG]i?B)[,.;:)]*$/;
const UNIT_BOUND = '\u202f';

/**
 * The words of a line with each command for the user to copy (`seq-tag train --preset solve`, with
 * `npx` before it or not) bound into one word: the subcommand, then flags and their values, up to
 * the first word that is neither ("(bidirectional", "with"). A pasted command that was split by a
 * line break runs as two commands, the second failing.
 */
function wordsOf(line: string): string[] {
  const words = line.split(' ');
  const out: string[] = [];
  for (let k = 0; k < words.length; k++) {
    const start = words[k] === 'npx' && words[k + 1] === 'seq-tag' ? k + 1 : words[k] === 'seq-tag' ? k : -1;
    if (start < 0 || !/^[a-z]/.test(words[start + 1] ?? '')) {
      // A unit stays with its number ("0.1 s", "24 GiB"): a line never starts with a bare unit.
      if (UNIT.test(words[k]) && /\d$/.test(out.at(-1) ?? '')) out.push(`${out.pop()}${UNIT_BOUND}${words[k]}`);
      else out.push(words[k]);
      continue;
    }
    let end = start + 2; // past the subcommand
    while (
      end < words.length &&
      !/[,;:]$/.test(words[end - 1]) &&
      (words[end].startsWith('-') || (words[end - 1].startsWith('--') && /^[^(-]/.test(words[end])))
    )
      end++;
    out.push(words.slice(k, end).join(BOUND));
    k = end - 1;
  }
  return out;
}

/** Whether a line printed by seq-tag is a command to copy: it may run past the width rather than break. */
export const isCommandLine = (line: string) => /^\s*(npx )?seq-tag [a-z]/.test(line.replace(ANSI, ''));

/** One line broken at spaces into lines of at most `columns` visible characters; commands to copy stay whole. */
export function wrapLine(line: string, columns: number): string {
  if (visibleLength(line) <= columns) return line;
  const pad = ' '.repeat(hangingIndent(line, columns));
  const room = columns - pad.length;
  const out: string[] = [];
  const [first, ...words] = wordsOf(line);
  let current = first;
  for (const word of words) {
    if (word === '' && current === pad && out.length > 0) continue; // padding at a break
    const joined = `${current} ${word}`;
    if (visibleLength(joined) <= columns || current.trim() === '') {
      current = joined;
      continue;
    }
    out.push(current.trimEnd());
    current = `${pad}${word}`;
  }
  out.push(current.trimEnd());
  // A word wider than the room (a long path) is cut at the width, not left to overflow; a command runs on.
  return out
    .flatMap((l) => (visibleLength(l) <= columns || l.includes(BOUND) ? [l] : chop(l, columns, pad, room)))
    .join('\n')
    .replaceAll(BOUND, ' ')
    .replaceAll(UNIT_BOUND, ' ');
}

function chop(line: string, columns: number, pad: string, room: number): string[] {
  const plainLine = line.replace(ANSI, '');
  const pieces = [plainLine.slice(0, columns)];
  for (let k = columns; k < plainLine.length; k += room) pieces.push(pad + plainLine.slice(k, k + room));
  return pieces;
}

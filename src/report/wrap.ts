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

/** One line broken at spaces into lines of at most `columns` visible characters. */
export function wrapLine(line: string, columns: number): string {
  if (visibleLength(line) <= columns) return line;
  const pad = ' '.repeat(hangingIndent(line, columns));
  const room = columns - pad.length;
  const out: string[] = [];
  const [first, ...words] = line.split(' ');
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
  // A word wider than the room (a long path) is cut at the width, not left to overflow.
  return out.flatMap((l) => (visibleLength(l) <= columns ? [l] : chop(l, columns, pad, room))).join('\n');
}

function chop(line: string, columns: number, pad: string, room: number): string[] {
  const plainLine = line.replace(ANSI, '');
  const pieces = [plainLine.slice(0, columns)];
  for (let k = columns; k < plainLine.length; k += room) pieces.push(pad + plainLine.slice(k, k + room));
  return pieces;
}

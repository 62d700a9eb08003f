// The lines of a text file as bytes, with their numbers and where they start: the corpus readers
// decode and check each one themselves, so a bad byte is reported at its line and offset.

/** One line without its newline (a trailing \r is dropped too). `offset`: its first byte in the file. */
export interface Line {
  bytes: Uint8Array;
  number: number;
  offset: number;
}

/** Raised for a line longer than the reader takes: its number, where it starts, and the limit. */
export class LongLine extends Error {
  constructor(
    readonly number: number,
    readonly limit: number,
  ) {
    super(`line ${number} is longer than ${limit} bytes`);
  }
}

/**
 * The lines of a stream of bytes, one at a time: memory is bounded by `maxLine` whatever the
 * stream's length. A line longer than `maxLine` ends it with LongLine.
 */
export async function* lines(chunks: AsyncIterable<Uint8Array>, maxLine: number): AsyncGenerator<Line> {
  let pending: Uint8Array[] = [];
  let pendingLength = 0;
  let number = 0;
  let offset = 0;
  let lineStart = 0;
  const line = (last: Uint8Array): Line => {
    const whole = pendingLength ? concat([...pending, last]) : last;
    pending = [];
    pendingLength = 0;
    const end = whole.length && whole[whole.length - 1] === 0x0d ? whole.length - 1 : whole.length;
    return { bytes: whole.subarray(0, end), number, offset: lineStart };
  };
  for await (const chunk of chunks) {
    let start = 0;
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, start)) {
      number++;
      if (pendingLength + i - start > maxLine) throw new LongLine(number, maxLine);
      yield line(chunk.subarray(start, i));
      start = i + 1;
      lineStart = offset + start;
    }
    if (start < chunk.length) {
      if (pendingLength + chunk.length - start > maxLine) throw new LongLine(number + 1, maxLine);
      pending.push(chunk.slice(start));
      pendingLength += chunk.length - start;
    }
    offset += chunk.length;
  }
  if (pendingLength) {
    number++;
    yield line(new Uint8Array(0));
  }
}

/** The parts as one array, in order. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The offset of the first byte of `bytes` that is not valid UTF-8 (a stray continuation byte, a
 * truncated or overlong sequence, a surrogate, a code point past U+10FFFF), or -1 if all are.
 */
export function invalidUtf8At(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    const [length, min] = b >= 0xc2 && b <= 0xdf ? [2, 0x80] : b >= 0xe0 && b <= 0xef ? [3, 0x800] : b >= 0xf0 && b <= 0xf4 ? [4, 0x10000] : [0, 0];
    if (length === 0 || i + length > bytes.length) return i;
    let cp = b & (0xff >> (length + 1));
    for (let k = 1; k < length; k++) {
      const c = bytes[i + k];
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += length;
  }
  return -1;
}

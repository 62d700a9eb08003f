/**
 * 1186 → "1,186". A regex, not toLocaleString: the first toLocaleString call of a process loads
 * ICU data (~12 ms), a tenth of the seed experiment's training time.
 */
export function thousands(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** "1 epoch", "20 epochs", "1,000 sequences". */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${thousands(n)} ${n === 1 ? word : many}`;
}

/** Control characters (C0, DEL, C1) and the Unicode marks that reorder or hide text on a terminal. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/**
 * Text from outside (a Redis job, a file) made safe to print: every control character shown as an
 * escape (`\x1b`, `\n`), so it can neither move the cursor, retitle the window nor fake a line;
 * then cut to `max` characters, saying how long it was.
 */
export function escapeText(text: string, max = 200): string {
  const safe = String(text).replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
  return safe.length <= max ? safe : `${safe.slice(0, max)}…(${thousands(text.length)} characters)`;
}

/** "350 MiB", "14.2 GiB". */
export function formatBytes(bytes: number): string {
  return bytes < 2 ** 30 ? `${Math.round(bytes / 2 ** 20)} MiB` : `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/** JSON has no NaN or Infinity: seq-tag spells them as the strings "NaN", "Infinity", "-Infinity" (--json, records, the queue, checkpoints). */
export const spellNumber = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);
/** The inverse of spellNumber, for JSON.parse. */
export const reviveNumber = (_k: string, v: unknown) => (v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v);

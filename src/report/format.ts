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

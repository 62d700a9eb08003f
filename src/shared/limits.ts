// How much of a user's file seq-tag is willing to read: every size a hostile file could inflate is
// bounded here, once, so that a bad file costs at most a few hundred megabytes and seconds.

export const LIMITS = {
  /** A model or data file on disk (a Keras tagger with a 50k × 300 embedding is ~60 MB). */
  fileBytes: 2 ** 28,
  /** One JSON document inside a model (a config.json is a few kB to a few hundred kB). */
  jsonBytes: 2 ** 24,
  /** The weights entry of a `.keras`, or an array of an `.npz`, once inflated. */
  entryBytes: 2 ** 28,
  /** What a data file's arrays become in memory: float32 inputs, int32 tag ids, the mask (one-hot rows are made a chunk at a time). */
  dataBytes: 2 ** 30,
  /** Nesting of a model's JSON: a Keras config is about ten levels deep. */
  jsonDepth: 64,
  /** A text corpus (CoNLL, word/TAG): read as a stream, held as int32 ids (8 bytes a word). */
  corpusBytes: 2 ** 30,
  /** Parameters a model's config may declare (128 MB of float32). */
  parameters: 32e6,
} as const;

/** Whether `value` nests deeper than `max` (arrays and objects), found without recursion. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

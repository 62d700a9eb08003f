/**
 * What the command line needs of the queue without loading it: BullMQ and ioredis take about half a
 * second to import, which every other command should not pay (src/sweep/queue.ts is loaded only
 * when --queue or `worker` is used).
 */

/** Seconds a worker's lock on a run lasts without renewal (see queue.ts). */
export const DEFAULT_LOCK_SECONDS = 30;

/** A Redis URL with its password hidden, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/[^:@/]*:)[^@]*@/, '$1***@');
}

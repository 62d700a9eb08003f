// Throwaway folders for tests (and the queue bench), removed when the process that made them exits
// or is stopped by SIGINT, SIGTERM or SIGHUP.
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/**
 * A fresh folder under the system's temporary folder, removed with everything in it when the test
 * file's process exits (`SEQ_TAG_KEEP_TEST_DIRS=1` keeps them, to look at after a failure).
 */
export function tempDir(prefix = 'seq-tag-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

function removeAll(): void {
  if (process.env.SEQ_TAG_KEEP_TEST_DIRS) return;
  for (const dir of made.splice(0)) removeTree(dir);
}

process.on('exit', removeAll);
// Stopped by a signal (Ctrl-C on npm test, a CI timeout): remove them too, then die of that signal as before.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    removeAll();
    process.kill(process.pid, signal);
  });
}

/** rm -rf, also through the folders a test made unreadable or unwritable (when not run as root). */
function removeTree(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    try {
      unlock(dir);
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // A folder still mounted (a full-disk test's tmpfs) or otherwise stuck: left for the system.
    }
  }
}

/** Makes `dir` and every folder below it readable, writable and searchable by its owner. */
function unlock(dir: string): void {
  chmodSync(dir, 0o700);
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) unlock(join(dir, entry.name));
}

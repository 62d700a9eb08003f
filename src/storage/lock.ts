import { rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { describeFsError, UserError } from '../errors.js';

/** proper-lockfile's lock folder and seq-tag's note of who holds it, inside the locked folder. */
export const LOCK_DIR = '.seq-tag.lock';
export const WRITER_FILE = '.seq-tag.writer';
/** A lock whose holder stopped refreshing it this long ago is taken over (its process is gone). */
const LOCK_STALE_MS = 30_000;

export interface FolderLock {
  /** True once another process took the lock over (ours went stale): writes must stop. */
  readonly lost: boolean;
  release(): Promise<void>;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One writer at a time per folder, through proper-lockfile (an atomic mkdir, refreshed while held,
 * released on exit). A second seq-tag fails at once with the holder's pid. A lock left by a killed
 * process on this machine (SIGKILL skips the release) is taken over when that pid is gone.
 * `flag` names the option the folder came from, for the messages.
 */
export async function lockFolder(dir: string, shown: string, flag: string): Promise<FolderLock> {
  const state = { lost: false };
  const lock = () => lockfile.lock(dir, { lockfilePath: join(dir, LOCK_DIR), stale: LOCK_STALE_MS, onCompromised: () => (state.lost = true) });
  let release: () => Promise<void>;
  try {
    release = await lock();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOCKED')
      throw new UserError(`cannot write to ${flag} ${shown}: ${describeFsError(err)}; choose a writable folder`);
    const owner = await readFile(join(dir, WRITER_FILE), 'utf8')
      .then(JSON.parse)
      .catch(() => undefined);
    if (!owner?.pid || owner.host !== hostname() || processAlive(owner.pid)) {
      const who = owner?.pid ? `another seq-tag (pid ${owner.pid}${owner.host !== hostname() ? ` on ${owner.host}` : ''})` : 'another seq-tag';
      throw new UserError(`${who} is writing to ${shown}; wait for it to finish or choose another ${flag}`);
    }
    await rm(join(dir, LOCK_DIR), { recursive: true, force: true });
    release = await lock();
  }
  const writer = join(dir, WRITER_FILE);
  try {
    await writeFile(writer, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
  } catch (err) {
    await rm(writer, { force: true });
    await release().catch(() => {});
    throw new UserError(`cannot write to ${flag} ${shown}: ${describeFsError(err)}; free some space or choose another folder`);
  }
  // A second Ctrl-C exits at once: the note goes with it (proper-lockfile removes its lock on exit too).
  const onExit = () => rmSync(writer, { force: true });
  process.on('exit', onExit);
  return {
    get lost() {
      return state.lost;
    },
    async release() {
      process.off('exit', onExit);
      await rm(writer, { force: true });
      await release().catch(() => {});
    },
  };
}

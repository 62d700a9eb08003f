import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { link, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describeFsError, UserError } from '../errors.js';
import { currentOwner, ownerGone, tempName, type Owner } from './owner.js';

/** The lock file inside a locked folder: who holds it (host, pid, start time) and a token of this claim. */
export const LOCK_FILE = '.seq-tag.lock';
/** What seq-tag 0.1 left beside its lock folder (proper-lockfile's): read only to take over such a lock. */
export const LEGACY_WRITER_FILE = '.seq-tag.writer';
/**
 * A holder on another host (a shared folder) proves it lives by touching the lock every REFRESH_MS;
 * one silent for STALE_MS is taken over. On this host, the holder's process decides: a paused one
 * (Ctrl-Z, SIGSTOP, a suspended laptop) keeps its lock however long it sleeps; a dead one loses it at once.
 */
const REFRESH_MS = 10_000;
const STALE_MS = 60_000;

interface LockNote extends Owner {
  token: string;
  name: string;
  since: string;
}

export interface FolderLock {
  /** Fencing: throws a UserError unless the lock file on disk is still this claim's. Call before each write. */
  check(): Promise<void>;
  release(): Promise<void>;
}

function parseNote(text: string): LockNote | undefined {
  try {
    const note = JSON.parse(text) as LockNote;
    return typeof note?.token === 'string' && typeof note.pid === 'number' && typeof note.host === 'string' && typeof note.start === 'string'
      ? note
      : undefined;
  } catch {
    return undefined;
  }
}

async function readNote(path: string): Promise<LockNote | undefined | 'folder'> {
  try {
    return parseNote(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EISDIR') return 'folder';
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Whether the lock seen at `path` is held by nobody: its writer is gone, or (another host) silent too long. */
async function abandoned(path: string, dir: string, note: LockNote | undefined | 'folder'): Promise<boolean> {
  const age = await stat(path).then(
    (s) => Date.now() - s.mtimeMs,
    () => Infinity,
  );
  if (note === 'folder') {
    // seq-tag 0.1's lock: its writer note names the pid; proper-lockfile refreshed the folder's mtime.
    const old = await readFile(join(dir, LEGACY_WRITER_FILE), 'utf8')
      .then(JSON.parse)
      .catch(() => undefined);
    return age > 30_000 || (typeof old?.pid === 'number' && old.host === hostname() && ownerGone({ host: currentOwner().host, pid: old.pid, start: '0' }));
  }
  if (!note) return age > 5_000; // unreadable: a note is written whole before the lock appears, so this is not seq-tag's lock in use
  return ownerGone(note) || (note.host !== currentOwner().host && age > STALE_MS);
}

function who(note: LockNote | undefined | 'folder'): string {
  if (!note || note === 'folder') return 'another seq-tag';
  return `another seq-tag (pid ${note.pid}${note.host !== currentOwner().host ? ` on another machine` : ''})`;
}

/**
 * One writer at a time per folder. The lock is a file made by link(2) from a complete note, so it
 * appears whole or not at all, and never twice. A second seq-tag fails at once naming the holder.
 * A lock whose holder is gone (this host, pid not running: SIGKILL, a crash, a power cut) is taken
 * over at once; one held by a paused process is not. `flag` names the option the folder came from.
 */
export async function lockFolder(dir: string, shown: string, flag: string): Promise<FolderLock> {
  const path = join(dir, LOCK_FILE);
  const note: LockNote = { ...currentOwner(), token: randomBytes(8).toString('hex'), name: 'seq-tag', since: new Date().toISOString() };
  const draft = join(dir, tempName(LOCK_FILE));
  const cannot = (err: unknown) =>
    new UserError(
      `cannot write to ${flag} ${shown}: ${describeFsError(err)}; ${(err as NodeJS.ErrnoException).code === 'ENOSPC' ? 'free some space or choose another folder' : 'choose a writable folder'}`,
    );
  try {
    await writeFile(draft, JSON.stringify(note), { flag: 'wx' });
  } catch (err) {
    await unlink(draft).catch(() => {}); // created, then the disk was full: an empty file
    throw cannot(err);
  }
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(draft, path);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw cannot(err);
      }
      const seen = await readNote(path);
      if (attempt > 3 || !(await abandoned(path, dir, seen))) {
        throw new UserError(`${who(seen)} is writing to ${shown}; wait for it to finish or choose another ${flag}`);
      }
      await takeOver(path, dir, seen);
    }
  } finally {
    await unlink(draft).catch(() => {});
  }
  return heldLock(path, note, shown);
}

/**
 * Removes an abandoned lock. Renamed aside first, so that of two processes taking over the same
 * lock only one removes it; if what was renamed is not the lock that was judged abandoned (another
 * taker's fresh lock), it is put back.
 */
async function takeOver(path: string, dir: string, seen: LockNote | undefined | 'folder'): Promise<void> {
  if (seen === 'folder') {
    await rm(path, { recursive: true, force: true });
    await rm(join(dir, LEGACY_WRITER_FILE), { force: true });
    return;
  }
  const aside = join(dir, tempName(`${LOCK_FILE}-stale`));
  try {
    await rename(path, aside);
  } catch {
    return; // someone else took it first: try again
  }
  const moved = await readNote(aside).catch(() => undefined);
  if (moved && moved !== 'folder' && seen && moved.token !== seen.token) await link(aside, path).catch(() => {});
  await unlink(aside).catch(() => {});
}

function heldLock(path: string, note: LockNote, shown: string): FolderLock {
  const ours = (text: string) => parseNote(text)?.token === note.token;
  // Touch the lock so that a seq-tag on another host sharing this folder sees it is alive.
  const refresh = setInterval(() => {
    const now = new Date();
    void utimes(path, now, now).catch(() => {});
  }, REFRESH_MS);
  refresh.unref();
  // A second Ctrl-C exits at once: the lock goes with it (if it is still this process's).
  const onExit = () => {
    try {
      if (ours(readFileSync(path, 'utf8'))) rmSync(path, { force: true });
    } catch {
      // gone already
    }
  };
  process.on('exit', onExit);
  return {
    async check() {
      const text = await readFile(path, 'utf8').catch(() => '');
      if (!ours(text)) {
        throw new UserError(`lost the lock on ${shown}: another seq-tag took it over while this one was stopped; this one writes nothing more there`);
      }
    },
    async release() {
      clearInterval(refresh);
      process.off('exit', onExit);
      const text = await readFile(path, 'utf8').catch(() => '');
      if (ours(text)) await rm(path, { force: true });
    },
  };
}

import { randomBytes } from 'node:crypto';
import { constants, lstatSync, mkdirSync, statSync, type Stats } from 'node:fs';
import { type FileHandle, open, readdir, rename, rm, truncate } from 'node:fs/promises';
import { basename, dirname, join, parse, resolve } from 'node:path';
import { describeFsError, UserError } from '../errors.js';
import { isOrphanTemp, tempName } from './owner.js';
import { formatBytes } from '../shared/format.js';

/**
 * Durable file writes: every helper here leaves either the old content or the new one on disk,
 * never a mixture, even if the process is killed or the disk fills in the middle.
 */

/** Called between the file-system steps of a write; tests use it to crash the process at each one. */
export type StepHook = (step: string) => void | Promise<void>;

/** A short random suffix for temporary and versioned file names. */
export function uniqueId(): string {
  return randomBytes(4).toString('hex');
}

/** Makes a folder's entries (a created or renamed file) durable. */
export async function syncFolder(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes all of `data` at `position`: one write call may write less than asked when the disk is
 * nearly full, without an error; the next one then fails with ENOSPC.
 */
async function writeAll(handle: FileHandle, data: Uint8Array, from: number, to: number, position: number): Promise<void> {
  while (from < to) {
    const { bytesWritten } = await handle.write(data, from, to - from, position);
    if (bytesWritten === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    from += bytesWritten;
    position += bytesWritten;
  }
}

/**
 * Writes `data` to a new file and fsyncs it. `onStep('partial')` runs after half of it is written,
 * so a test can kill the process with a torn file on disk. On failure the file is removed.
 */
export async function writeNewFile(path: string, data: Uint8Array, onStep?: StepHook): Promise<void> {
  const handle = await open(path, 'wx');
  let written = false;
  try {
    const half = data.byteLength >> 1;
    await writeAll(handle, data, 0, half, 0);
    await onStep?.('partial');
    await writeAll(handle, data, half, data.byteLength, half);
    await handle.sync();
    written = true;
  } finally {
    await handle.close();
    if (!written) await rm(path, { force: true });
  }
}

/**
 * Replaces `path` atomically: the content goes to a temporary file in the same folder, is fsynced,
 * then renamed over `path`, and the folder is fsynced. Readers see the old file or the new one.
 * The temporary file is named `.<name>.tmp-<owner>-<id>` (./owner.ts), so a crash leaves at most
 * that behind, which `removeOrphanTemps` can prove is a gone seq-tag's.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, onStep?: StepHook): Promise<void> {
  const tmp = join(dirname(path), tempName(basename(path)));
  await writeNewFile(tmp, typeof data === 'string' ? Buffer.from(data) : data, onStep && ((s) => onStep(`temp-${s}`)));
  await onStep?.('temp-synced');
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await onStep?.('renamed');
  await syncFolder(dirname(path));
}

/**
 * Removes the temporary files (or folders) of `bases` in `dir` that a crashed seq-tag left: only
 * names in seq-tag's own format whose writer is provably gone (./owner.ts). A user's file named
 * like one (`.model.json.tmp-mine`) never matches. Returns the names removed.
 */
export async function removeOrphanTemps(dir: string, bases: string[]): Promise<string[]> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  const orphans = entries.filter((name) => bases.some((base) => isOrphanTemp(base, name)));
  await Promise.all(orphans.map((name) => rm(join(dir, name), { recursive: true, force: true })));
  return orphans;
}

/**
 * Appends one whole line to `file` (created if missing): written with a single positioned write
 * and fsynced; if the write fails part-way (disk full), the file is cut back to its old length,
 * so it never holds a partial line.
 */
export async function appendLine(file: string, line: string): Promise<void> {
  const handle = await open(file, 'a');
  const { size } = await handle.stat();
  try {
    const bytes = Buffer.from(line.endsWith('\n') ? line : `${line}\n`);
    await writeAll(handle, bytes, 0, bytes.byteLength, size);
    await handle.sync();
  } catch (err) {
    await truncate(file, size).catch(() => {});
    throw err;
  } finally {
    await handle.close();
  }
}

/**
 * `mkdir -p` that cannot loop: Node's recursive mkdir spins forever on paths like /proc/foo (it
 * alternates between ENOENT and EEXIST). Creates the missing folders one level at a time and says
 * in words what stops it. Returns whether it created `dir` itself. Synchronous, since it is a few
 * system calls and the TensorBoard writer, which is synchronous, needs it too.
 */
export function makeFolderSync(dir: string, flag: string): boolean {
  const target = resolve(dir);
  const missing: string[] = [];
  let existing = target;
  for (;;) {
    let info: Stats | NodeJS.ErrnoException;
    try {
      info = statSync(existing);
    } catch (err) {
      info = err as NodeJS.ErrnoException;
    }
    if (!(info instanceof Error)) {
      if (!info.isDirectory())
        throw new UserError(`cannot use ${flag} ${dir}: ${existing === target ? 'it is a file' : `${existing} is a file`}; choose a folder path`);
      break;
    }
    // ENOTDIR: some ancestor is a file; walking up finds it and names it.
    if (info.code !== 'ENOENT' && info.code !== 'ENOTDIR') throw new UserError(`cannot use ${flag} ${dir}: ${describeFsError(info)}; choose a writable folder`);
    if (isDanglingLink(existing))
      throw new UserError(`cannot use ${flag} ${dir}: ${existing} is a symlink to a folder that does not exist; create it or choose another folder`);
    if (existing === parse(existing).root) break;
    missing.unshift(existing);
    existing = dirname(existing);
  }
  for (const folder of missing) {
    try {
      mkdirSync(folder);
    } catch (err) {
      throw new UserError(`cannot create ${flag} ${dir}: ${describeFsError(err)}; choose a writable folder`);
    }
  }
  return missing.length > 0;
}

function isDanglingLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** makeFolderSync for async callers. */
export async function makeFolder(dir: string, flag: string): Promise<boolean> {
  return makeFolderSync(dir, flag);
}

/** Raised by `readBounded` for a path that is not a regular file or is larger than allowed; the message says which. */
export class NotReadable extends Error {}

/** `info`, if it is a regular file's: a folder, device, pipe or socket is NotReadable. */
function regularFileOnly<T extends { isFile(): boolean; isDirectory(): boolean }>(info: T): T {
  if (!info.isFile()) throw new NotReadable(`is not a regular file (${info.isDirectory() ? 'a folder' : 'a device, pipe or socket'})`);
  return info;
}

/**
 * The bytes of a regular file, a megabyte at a time, however large it is: a device, pipe or socket
 * is refused (NotReadable) before any byte is read, as readBounded refuses it.
 */
export async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    regularFileOnly(await handle.stat());
    const buffer = new Uint8Array(2 ** 20);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/**
 * The bytes of a regular file of at most `limit` bytes. A device, pipe or socket (`/dev/zero`
 * behind a model's name) is refused before any byte is read, and so is a larger file; the bytes
 * are read from the descriptor that was checked, never more than `limit` + 1 of them.
 */
export async function readBounded(path: string, limit: number): Promise<Uint8Array> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = regularFileOnly(await handle.stat());
    if (info.size > limit) throw new NotReadable(`is ${formatBytes(info.size)}, more than the ${formatBytes(limit)} seq-tag reads`);
    const bytes = new Uint8Array(Math.min(info.size, limit) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(bytes, length, bytes.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      // A file that grew past its stat size while being read.
      if (length > limit) throw new NotReadable(`is more than the ${formatBytes(limit)} seq-tag reads`);
    }
    return bytes.subarray(0, length);
  } finally {
    await handle.close();
  }
}

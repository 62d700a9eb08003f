// Who wrote a file or holds a lock: this host, this pid, and when the process started (so a pid the
// system has reused for another program is not mistaken for the writer). Names seq-tag gives its own
// temporary files carry this identity, so a later run can prove a leftover is a crashed seq-tag's.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export interface Owner {
  /** A short hash of the host name (names stay short, and a file name says nothing about the machine). */
  host: string;
  pid: number;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22); "0" where the system has no /proc. */
  start: string;
}

export const HOST = createHash('sha1').update(hostname()).digest('hex').slice(0, 6);

/** The start time of `pid` as the kernel records it, or undefined when no such process runs (or no /proc). */
function startOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

let self: Owner | undefined;

/** This process. */
export function currentOwner(): Owner {
  return (self ??= { host: HOST, pid: process.pid, start: startOf(process.pid) ?? '0' });
}

function pidRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether `owner` is provably gone: it ran on this host and its pid runs no more, or runs a process
 * that started at another time. An owner on another host is never provably gone.
 */
export function ownerGone(owner: Owner): boolean {
  if (owner.host !== HOST) return false;
  if (!pidRunning(owner.pid)) return true;
  const start = startOf(owner.pid);
  return start !== undefined && owner.start !== '0' && start !== owner.start;
}

/** The owner as it appears in file names: `host.pid.start`. */
export function ownerTag(owner: Owner = currentOwner()): string {
  return `${owner.host}.${owner.pid}.${owner.start}`;
}

/** An owner tag in a file name, `host.pid.start`: the one pattern every name seq-tag gives its files uses. */
export const OWNER_TAG = '[0-9a-f]{6}\\.\\d{1,10}\\.\\d{1,20}';
const TAG = new RegExp(`^(${OWNER_TAG})$`);
const TEMP_SUFFIX = new RegExp(`^(${OWNER_TAG})-[0-9a-f]{8}$`);

/** The owner a tag names, or undefined. */
export function parseOwnerTag(tag: string): Owner | undefined {
  if (!TAG.test(tag)) return undefined;
  const [host, pid, start] = tag.split('.');
  return { host, pid: Number(pid), start };
}

/** Whether `owner` is this process or provably gone: either way, nothing it was writing will be finished by it. */
export function ownerDoneWith(owner: Owner): boolean {
  return ownerTag(owner) === ownerTag(currentOwner()) || ownerGone(owner);
}

/**
 * The temporary name seq-tag writes `base` under before renaming it into place: `.base.tmp-<owner>-<id>`.
 * The `*.tmp-*` shape is what .gitignore files already skip.
 */
export function tempName(base: string): string {
  return `.${base}.tmp-${ownerTag()}-${randomBytes(4).toString('hex')}`;
}

/** The owner of a temporary name of `base` that seq-tag wrote, or undefined for any other name (a user's `.base.tmp-mine`). */
export function tempOwner(base: string, name: string): Owner | undefined {
  const prefix = `.${base}.tmp-`;
  if (!name.startsWith(prefix)) return undefined;
  const m = TEMP_SUFFIX.exec(name.slice(prefix.length));
  return m ? parseOwnerTag(m[1]) : undefined;
}

/** Whether `name` is a temporary file of `base` left by a seq-tag process that is gone (crashed mid-write). */
export function isOrphanTemp(base: string, name: string): boolean {
  const owner = tempOwner(base, name);
  return owner !== undefined && ownerGone(owner);
}

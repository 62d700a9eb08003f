/** Every exit status seq-tag uses, in one place. */
export enum ExitCode {
  Ok = 0,
  /** The environment is at fault: a missing model, an unwritable path, a full disk. */
  Runtime = 1,
  /** The command line is at fault: a bad flag or value. */
  Usage = 2,
  /** The command worked, the model did not: training diverged, or a check failed. */
  Failed = 3,
  /** Ctrl-C (128 + SIGINT), as shells report it. */
  Interrupted = 130,
}

/**
 * An expected failure caused by what the user asked for (bad flag, missing model, unwritable path).
 * The CLI prints its message as one line and exits with `exitCode`; it never shows a stack trace.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode.Runtime | ExitCode.Usage = ExitCode.Runtime,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

const FS_ERRORS: Record<string, string> = {
  ENOTDIR: 'part of the path is a file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'disk full',
  ENAMETOOLONG: 'path too long',
  EISDIR: 'is a folder',
  ENOENT: 'no such file or folder',
  EEXIST: 'already exists',
  EDQUOT: 'disk quota exceeded',
};

/** A file-system error in a few words, e.g. "permission denied (EACCES)". */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code && FS_ERRORS[code]) return `${FS_ERRORS[code]} (${code})`;
  return code ?? (err instanceof Error ? err.message : String(err));
}

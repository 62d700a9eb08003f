/**
 * An expected failure caused by what the user asked for (bad flag, missing model, unwritable path).
 * The CLI prints its message as one line and exits with `exitCode`; it never shows a stack trace.
 * Exit code 2 means "usage" (fix the command line), 1 means "runtime" (fix the environment).
 */
export class UserError extends Error {
  constructor(message: string, readonly exitCode: 1 | 2 = 1) {
    super(message);
    this.name = 'UserError';
  }
}

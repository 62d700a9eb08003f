import { thousands } from '../report/format.js';
import { toJson } from '../report/render.js';
import { VERSION } from '../version.js';

import { ExitCode } from '../errors.js';
import type { LoadedModel } from '../storage/model-store.js';
export { renderModelLine as modelLine } from '../report/render.js';

export { ExitCode };

/**
 * stdout that a closed pipe silences instead of ending the process: `seq-tag train | head -3`
 * still trains and saves, `seq-tag sweep | head` still completes. Only the printing stops.
 */
export class Printer {
  closed = false;

  constructor(readonly stream: NodeJS.WriteStream) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      this.closed = true;
    });
  }

  write(text: string): void {
    if (!this.closed) this.stream.write(text);
  }

  line(text = ''): void {
    this.write(`${text}\n`);
  }

  get isTTY(): boolean {
    return this.stream.isTTY === true;
  }

  /** Width to fit tables and bars into: the terminal's, or unlimited for pipes and files. */
  get columns(): number {
    return this.isTTY && this.stream.columns ? this.stream.columns : Infinity;
  }
}

let stdoutPrinter: Printer | undefined;
let stderrPrinter: Printer | undefined;

export function stdout(): Printer {
  return (stdoutPrinter ??= new Printer(process.stdout));
}

export function stderr(): Printer {
  return (stderrPrinter ??= new Printer(process.stderr));
}

/** The one JSON envelope every command's --json prints: the command, seq-tag's version, then its results. */
export function printJson(command: string, payload: object): void {
  stdout().line(toJson({ command, seqTagVersion: VERSION, ...payload }));
}

/** A loaded model in --json output: where it came from, what it is, and seq-tag's record when it has one. */
export function modelJson(path: string, loaded: LoadedModel): object {
  const { format, description, record, compile, kerasVersion, nonFinite } = loaded;
  return { path, format, kerasVersion, ...description, compile, record, nonFiniteWeights: nonFinite };
}

/**
 * A value echoed in an error that is longer than a line (a pasted file as an argument, say) is
 * shown by its start and length, not in full: quoted values over 60 characters, bare words over 120.
 */
export function shortenQuoted(message: string): string {
  const short = (value: string) => `${value.slice(0, 40)}…(${thousands(value.length)} characters)`;
  return message.replace(/'([^']{61,})'/g, (_m, value: string) => `'${short(value)}'`).replace(/[^\s']{121,}/g, short);
}

/**
 * Ctrl-C as seq-tag's long commands want it: the first aborts `signal` (the work stops at its next
 * safe point and keeps what is finished) and calls `onFirst`; a second exits at once with 130.
 */
export function onCtrlC(onFirst?: () => void): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handler = () => {
    if (controller.signal.aborted) process.exit(ExitCode.Interrupted);
    controller.abort();
    onFirst?.();
  };
  process.on('SIGINT', handler);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', handler) };
}

import { AsyncLocalStorage } from 'node:async_hooks';
import { constants } from 'node:os';
import { thousands } from '../shared/format.js';
import { renderBatchProgress, styleFor, toJson, type Style } from '../report/render.js';
import type { BatchRecord } from '../training/train.js';
import { columnsFor, wrapText } from '../report/wrap.js';
import { VERSION } from '../version.js';

import { ExitCode } from '../errors.js';
import type { LoadedModel } from '../model/store.js';
export { renderModelLine as modelLine } from '../report/render.js';

export { ExitCode };

/** Where a Printer writes: a process stream, or text kept in memory by an in-process run. */
export interface Sink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
  on?(event: 'error', listener: (err: NodeJS.ErrnoException) => void): unknown;
}

/**
 * stdout that a closed pipe silences instead of ending the process: `seq-tag train | head -3`
 * still trains and saves, `seq-tag sweep | head` still completes. Only the printing stops.
 */
export class Printer {
  closed = false;

  constructor(
    readonly stream: Sink,
    readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    stream.on?.('error', (err: NodeJS.ErrnoException) => {
      // EPIPE: the reader left (| head); EIO: the terminal was closed (SIGHUP follows).
      if (err.code !== 'EPIPE' && err.code !== 'EIO') throw err;
      this.closed = true;
    });
  }

  write(text: string): void {
    if (!this.closed) this.stream.write(text);
  }

  /** A line of text for a person, fitted into the width at word boundaries; commands in it as the user types them. */
  line(text = ''): void {
    this.write(`${wrapText(asTyped(text, this.env), this.columns)}\n`);
  }

  /** A line written as is: JSON, and the one-line error that scripts match (commands in it as typed). */
  raw(text: string): void {
    this.write(`${text.startsWith('{') ? text : asTyped(text, this.env)}\n`);
  }

  get isTTY(): boolean {
    return this.stream.isTTY === true;
  }

  /** Width to fit text, tables and bars into: the terminal's, else COLUMNS, else 80. */
  get columns(): number {
    return columnsFor(this.stream, this.env);
  }

  /** Colour when this stream is a terminal and NO_COLOR is not set (or FORCE_COLOR is). */
  get style(): Style {
    return styleFor(this.stream, this.env);
  }
}

/** Whether this process was started by `npx seq-tag` (npm exec), as inside a clone where seq-tag is not installed. */
export const startedByNpx = (env: NodeJS.ProcessEnv = process.env) => env.npm_command === 'exec';

/**
 * `text` with each command to copy (`seq-tag train …`) as the user will type it: `npx seq-tag …` when
 * they started seq-tag with npx (a clone, not installed, where a bare `seq-tag` is not found).
 */
export function asTyped(text: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!startedByNpx(env)) return text;
  return text.replace(/(^|[\s(:`'"])seq-tag (?=(train|predict|evaluate|doctor|sweep|tune|export|worker)\b)/g, '$1npx seq-tag ');
}

/**
 * What one run of seq-tag reads and writes: the real process's streams and environment, or those an
 * in-process run (`run(argv, io)`, the tests) gives it. Commands reach it through stdout(), stderr(),
 * stdin() and setExitCode(), never through `process` directly.
 */
export interface Io {
  stdout: Printer;
  stderr: Printer;
  env: NodeJS.ProcessEnv;
  /** What `predict --input -` reads. */
  stdin: AsyncIterable<Uint8Array>;
  /** Set by a command that ran but found a problem (a diverged run, a failed check, a stop). */
  exitCode?: number;
}

const current = new AsyncLocalStorage<Io>();
let processIo: Io | undefined;

/** The real process's Io, made once: its printers listen for EPIPE from the start. */
export function ioOfProcess(): Io {
  return (processIo ??= {
    stdout: new Printer(process.stdout),
    stderr: new Printer(process.stderr),
    env: process.env,
    stdin: process.stdin as AsyncIterable<Uint8Array>,
  });
}

/** Runs `work` with `io` as the run's streams, environment and exit code. */
export function withIo<T>(io: Io, work: () => Promise<T>): Promise<T> {
  return current.run(io, work);
}

const io = (): Io => current.getStore() ?? ioOfProcess();

export const stdout = (): Printer => io().stdout;
export const stderr = (): Printer => io().stderr;
export const stdin = (): AsyncIterable<Uint8Array> => io().stdin;

/** The exit code of this run when it ends normally: a command that found a problem sets it. */
export function setExitCode(code: number): void {
  io().exitCode = code;
}

/** The one JSON envelope every command's --json prints: the command, seq-tag's version, then its results. */
export function printJson(command: string, payload: object): void {
  stdout().raw(toJson({ command, seqTagVersion: VERSION, ...payload }));
}

/** A loaded model in --json output: where it came from, what it is, and seq-tag's record when it has one. */
export function modelJson(path: string, loaded: LoadedModel): object {
  const { format, description, record, compile, kerasVersion, nonFinite, notes } = loaded;
  return { path, format, kerasVersion, ...description, compile: compile && { ...compile, keras: undefined }, record, nonFiniteWeights: nonFinite, notes };
}

/**
 * A value echoed in an error that is longer than a line (a pasted file as an argument, say) is
 * shown by its start and length, not in full: quoted values over 60 characters, bare words over 120.
 */
export function shortenQuoted(message: string): string {
  const short = (value: string) => `${value.slice(0, 40)}…(${thousands(value.length)} characters)`;
  return message.replace(/'([^']{61,})'/g, (_m, value: string) => `'${short(value)}'`).replace(/[^\s']{121,}/g, short);
}

/** The signals that ask a process to stop: Ctrl-C, `kill`/`docker stop`/Kubernetes/`timeout`, a closed terminal. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** 128 + the signal's number, as shells report a process that a signal stopped (130 for Ctrl-C, 143 for SIGTERM). */
export function signalExitCode(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}

/** How a stop signal is named to the user. */
export function signalName(signal: StopSignal): string {
  return signal === 'SIGINT' ? 'Ctrl-C' : signal;
}

export interface StopRequest {
  signal: AbortSignal;
  /** The first stop signal received, if any. */
  readonly received: StopSignal | undefined;
  dispose: () => void;
}

/**
 * Stop signals as seq-tag's long commands want them (Ctrl-C, SIGTERM and SIGHUP alike): the first
 * aborts `signal` (the work stops at its next safe point and keeps what is finished) and calls
 * `onFirst`; a second calls `onAgain`, or without one exits at once with 128 + its number.
 */
export function onStop(onFirst?: (signal: StopSignal) => void, onAgain?: (signal: StopSignal) => void): StopRequest {
  const controller = new AbortController();
  let received: StopSignal | undefined;
  const handlers = STOP_SIGNALS.map((name) => {
    const handler = () => {
      if (controller.signal.aborted) return onAgain ? onAgain(name) : process.exit(signalExitCode(name));
      received = name;
      controller.abort();
      onFirst?.(name);
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    dispose: () => {
      for (const [name, handler] of handlers) process.off(name, handler);
    },
  };
}

/** The batch after which an epoch that is still running shows its progress on a terminal. */
const PROGRESS_AFTER_MS = 1000;

/**
 * On a terminal (and not --json), an epoch that takes more than a second shows its batches as they
 * go, on one line that the epoch's own line replaces: `batch` after each batch, `clear` before the
 * epoch's line and after training.
 */
export function batchProgress(out: Printer, json: boolean, epochs: number, afterMs = PROGRESS_AFTER_MS): { batch(b: BatchRecord): void; clear(): void } {
  const live = !json && out.isTTY;
  let started = performance.now();
  let shown = false;
  return {
    batch(b) {
      if (b.batch === 1) started = performance.now();
      if (!live || performance.now() - started < afterMs) return;
      out.write(`\r${renderBatchProgress(b, epochs, out.style, out.columns)}\x1b[K`);
      shown = true;
    },
    clear() {
      if (shown) out.write('\r\x1b[K');
      shown = false;
    },
  };
}

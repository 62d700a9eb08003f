import { CommanderError } from 'commander';
import { UserError } from '../errors.js';
import { escapeText } from '../shared/format.js';
import { ExitCode, Printer, ioOfProcess, shortenQuoted, stderr, withIo, type Io, type Sink } from './output.js';
import { program } from './program.js';

/** What an in-process run reads and writes instead of the process's own (the tests give their own). */
export interface RunOptions {
  stdout?: Sink;
  stderr?: Sink;
  /** The environment the run sees (NO_COLOR, COLUMNS, …); default: the process's. */
  env?: NodeJS.ProcessEnv;
  /** Relative paths are read from here; the process's working directory for the run's length. */
  cwd?: string;
  stdin?: AsyncIterable<Uint8Array>;
}

let runningIn: string | undefined;

/**
 * Runs seq-tag with `args` (what follows `seq-tag` on a command line) and returns its exit code; it
 * never exits the process. The one place that turns failures into a single stderr line and an exit
 * code; nothing below prints a stack. `main.ts` calls it with the process's own streams.
 */
export async function run(args: string[], options: RunOptions = {}): Promise<number> {
  const own = ioOfProcess();
  const env = options.env ?? own.env;
  const io: Io = {
    stdout: options.stdout ? new Printer(options.stdout, env) : own.stdout,
    stderr: options.stderr ? new Printer(options.stderr, env) : own.stderr,
    env,
    stdin: options.stdin ?? own.stdin,
  };
  const cwd = options.cwd && options.cwd !== process.cwd() ? options.cwd : undefined;
  if (cwd && runningIn !== undefined) throw new Error('in-process seq-tag runs with their own cwd cannot overlap');
  const before = process.cwd();
  if (cwd) process.chdir((runningIn = cwd));
  try {
    return await withIo(io, () => runIn(args, io));
  } finally {
    if (cwd) {
      process.chdir(before);
      runningIn = undefined;
    }
  }
}

async function runIn(args: string[], io: Io): Promise<number> {
  try {
    await program().parseAsync(args, { from: 'user' });
    // Commands that ran but found a problem (a diverged run, a failed check) set the exit code.
    return io.exitCode ?? ExitCode.Ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its one-line message; help and version exit 0.
      return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    if (err instanceof UserError) {
      // One line, whatever the message quotes (a newline or an escape sequence typed into a flag).
      stderr().raw(`seq-tag: ${shortenQuoted(escapeText(err.message, Infinity))}`);
      return err.exitCode;
    }
    const message = escapeText(err instanceof Error ? err.message.split('\n')[0] : String(err), 300);
    stderr().raw(`seq-tag: unexpected error: ${message} (set SEQ_TAG_DEBUG=1 to see where)`);
    if (io.env.SEQ_TAG_DEBUG && err instanceof Error) stderr().raw(`${err.stack}`);
    return ExitCode.Runtime;
  }
}

#!/usr/bin/env node
import { CommanderError } from 'commander';
import { UserError } from '../errors.js';
import { escapeText } from '../shared/format.js';
import { ExitCode, shortenQuoted, stderr, stdout } from './output.js';
import { program } from './program.js';

/** The one place that turns failures into a single stderr line and an exit code; nothing below prints a stack. */
async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    // Commands that ran but found a problem (a diverged run, a failed check) set process.exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.Ok;
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
    if (process.env.SEQ_TAG_DEBUG && err instanceof Error) stderr().raw(`${err.stack}`);
    return ExitCode.Runtime;
  }
}

// `seq-tag train | head` closes the pipe early; that is the reader's choice, not an error: the
// printing stops, the work (training, saving, a sweep) goes on, and the exit code is unchanged.
stdout();
stderr();

process.exitCode = await main(process.argv);
// Everything is done and printed: a handle some library left open (a socket, a timer) must not keep
// the process alive. On Linux, stdout and stderr to files, pipes and terminals are written synchronously.
setTimeout(() => process.exit(), 2000).unref();

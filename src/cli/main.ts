#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { UserError } from '../errors.js';
import { VERSION } from '../version.js';
import { escapeText } from '../report/format.js';
import { ExitCode, shortenQuoted, stderr, stdout } from './output.js';
import { doctorCommand } from './doctor.js';
import { evaluateCommand } from './evaluate.js';
import { exportCommand } from './export.js';
import { predictCommand } from './predict.js';
import { sweepCommand } from './sweep.js';
import { tuneCommand } from './tune.js';
import { trainCommand } from './train.js';
import { workerCommand } from './worker.js';

function program(): Command {
  const root = new Command('seq-tag').description('Reproduce, explain and fix the Keras LSTM tagger whose loss is NaN from epoch 1.').version(VERSION);
  for (const cmd of [trainCommand(), predictCommand(), evaluateCommand(), doctorCommand(), exportCommand(), sweepCommand(), tuneCommand(), workerCommand()])
    root.addCommand(cmd);
  for (const cmd of [root, ...root.commands]) {
    cmd.exitOverride().configureOutput({
      // One line per error, in our voice: "seq-tag: option '--epochs <n>' argument 'abc' is invalid. … (see: seq-tag train --help)".
      outputError: (text, write) =>
        write(
          `seq-tag: ${shortenQuoted(
            text
              .trim()
              .replace(/^error: /, '')
              .replace(/\s*\n\s*/g, ' '),
          )} (see: ${helpCommand(cmd)})\n`,
        ),
    });
  }
  return root;
}

function helpCommand(cmd: Command): string {
  return cmd.parent ? `seq-tag ${cmd.name()} --help` : 'seq-tag --help';
}

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
      stderr().line(`seq-tag: ${shortenQuoted(escapeText(err.message, Infinity))}`);
      return err.exitCode;
    }
    const message = escapeText(err instanceof Error ? err.message.split('\n')[0] : String(err), 300);
    stderr().line(`seq-tag: unexpected error: ${message} (set SEQ_TAG_DEBUG=1 to see where)`);
    if (process.env.SEQ_TAG_DEBUG && err instanceof Error) stderr().line(`${err.stack}`);
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

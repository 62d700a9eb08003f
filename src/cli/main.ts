#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { UserError } from '../errors.js';
import { VERSION } from '../version.js';
import { doctorCommand } from './doctor.js';
import { evaluateCommand } from './evaluate.js';
import { predictCommand } from './predict.js';
import { sweepCommand } from './sweep.js';
import { trainCommand } from './train.js';

const EXIT_RUNTIME = 1;
const EXIT_USAGE = 2;

function program(): Command {
  const root = new Command('seq-tag')
    .description('Reproduce, explain and fix the Keras LSTM tagger whose loss is NaN from epoch 1.')
    .version(VERSION);
  for (const cmd of [trainCommand(), predictCommand(), evaluateCommand(), doctorCommand(), sweepCommand()]) root.addCommand(cmd);
  for (const cmd of [root, ...root.commands]) {
    cmd.exitOverride().configureOutput({
      // One line per error, in our voice: "seq-tag: option '--epochs <n>' argument 'abc' is invalid. … (see: seq-tag train --help)".
      outputError: (text, write) => write(`seq-tag: ${text.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')} (see: ${helpCommand(cmd)})\n`),
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
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its one-line message; help and version exit 0.
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (err instanceof UserError) {
      process.stderr.write(`seq-tag: ${err.message}\n`);
      return err.exitCode;
    }
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    process.stderr.write(`seq-tag: unexpected error: ${message} (set SEQ_TAG_DEBUG=1 to see where)\n`);
    if (process.env.SEQ_TAG_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return EXIT_RUNTIME;
  }
}

// `seq-tag predict | head` closes the pipe early; that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await main(process.argv);

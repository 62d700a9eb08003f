import { Command } from 'commander';
import { VERSION } from '../version.js';
import { shortenQuoted, stderr, stdout } from './output.js';
import { doctorCommand } from './doctor.js';
import { evaluateCommand } from './evaluate.js';
import { exportCommand } from './export.js';
import { predictCommand } from './predict.js';
import { sweepCommand } from './sweep.js';
import { tuneCommand } from './tune.js';
import { trainCommand } from './train.js';
import { workerCommand } from './worker.js';

/** seq-tag's commands, each wired from its own file; `helpWidth` fixes the help's width (the reference page uses 100). */
export function program(helpWidth?: number): Command {
  const root = new Command('seq-tag').description('Reproduce, explain and fix the Keras LSTM tagger whose loss is NaN from epoch 1.').version(VERSION);
  for (const cmd of [trainCommand(), predictCommand(), evaluateCommand(), doctorCommand(), exportCommand(), sweepCommand(), tuneCommand(), workerCommand()])
    root.addCommand(cmd);
  for (const cmd of [root, ...root.commands]) {
    cmd.exitOverride().configureOutput({
      // Help fits the terminal, or COLUMNS, or 80 columns, like every other screen.
      getOutHelpWidth: () => helpWidth ?? stdout().columns,
      getErrHelpWidth: () => helpWidth ?? stderr().columns,
      // Commander leaves a description column narrower than 40 unwrapped (at 60 columns): the printer wraps it.
      writeOut: (text) => stdout().line(text.replace(/\n$/, '')),
      writeErr: (text) => stderr().write(text),
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

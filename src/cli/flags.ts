// The hyperparameter table as commander options (the table itself: ../config/hyperparameters.ts).
import { Command, InvalidArgumentError, Option } from 'commander';
import type { z } from 'zod';
import type { Config } from '../config/config.js';
import { HYPERPARAMETERS, type Hyperparameter } from '../config/hyperparameters.js';

export * from '../config/hyperparameters.js';

/** Commander's argument parser from a schema: a bad value is one line saying what is expected. */
export function parserOf<T>(schema: z.ZodType<T, string>): (value: string) => T {
  return (value) => {
    const result = schema.safeParse(value);
    if (!result.success) throw new InvalidArgumentError(result.error.issues[0].message);
    return result.data;
  };
}

/**
 * The commander options of the table, each defaulting to `defaults` (the original preset); with
 * `solve`, a flag that preset sets says its value there in its help ("--preset solve: 12").
 */
export function hyperparameterOptions(defaults: Omit<Config, 'seed'>, solve?: Omit<Config, 'seed'>): Option[] {
  return (HYPERPARAMETERS as readonly Hyperparameter[]).flatMap((row) => {
    const other = solve && solve[row.key] !== defaults[row.key] ? ` (--preset solve: ${shownValue(solve[row.key])})` : '';
    const option = new Option(row.flag, `${row.help}${other}`);
    if (row.values) option.choices(row.values);
    if (row.schema) option.argParser(parserOf(row.schema));
    const value = defaults[row.key];
    if (row.values || row.schema) return value === null || row.derived ? [option] : [option.default(value)];
    // A switch: --flag and --no-flag, both writing the same key; the default is the preset's.
    const off = new Option(`--no-${row.flag.replace(/^--/, '')}`, row.offHelp ?? `turn ${row.flag} off`);
    return [option.default(value), row.offHelp ? off : off.hideHelp()];
  });
}

/** Adds the table's options to `cmd`. */
export function addHyperparameters(cmd: Command, defaults: Omit<Config, 'seed'>, solve?: Omit<Config, 'seed'>): Command {
  for (const option of hyperparameterOptions(defaults, solve)) cmd.addOption(option);
  return cmd;
}

/** A config value as typed on the command line: switches on/off. */
function shownValue(value: unknown): string {
  return typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value);
}

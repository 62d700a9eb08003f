import type { Command } from 'commander';
import { ExitCode, UserError } from '../errors.js';
import { parseGridAxis } from '../sweep/grid.js';

/**
 * One dimension of a search: a train flag and the values `tune` may give it. A range `lo..hi`
 * (`:log` to sample its logarithm) is an integer range when the flag takes whole numbers; a list
 * `a,b,c` (on/off for a switch) is a choice, parsed exactly as a sweep's grid values are.
 */
export type Dimension =
  | { kind: 'range'; flag: string; attribute: string; low: number; high: number; log: boolean; integer: boolean }
  | { kind: 'choice'; flag: string; attribute: string; choices: { text: string; value: unknown }[] };

const RANGE = /^(.+?)\.\.(.+?)(:log)?$/;

/** Parses `flag=lo..hi[:log]` or `flag=a,b,c`, each value checked by the flag's own parser (`prototype`: the train options). */
export function parseDimension(spec: string, prototype: Command): Dimension {
  const eq = spec.indexOf('=');
  const range = eq > 0 ? RANGE.exec(spec.slice(eq + 1).trim()) : null;
  if (!range) {
    const axis = parseGridAxis(spec, prototype, '--space');
    if (axis.values.length < 2) throw new UserError(`--space ${spec}: one value is not a search; give a range lo..hi or two or more values`, ExitCode.Usage);
    return { kind: 'choice', flag: axis.key, attribute: axis.attribute, choices: axis.values };
  }
  const [, lowText, highText, log] = range;
  // Both ends go through the flag's parser: a range is only as wide as the flag allows.
  const ends = parseGridAxis(`${spec.slice(0, eq)}=${lowText},${highText}`, prototype, '--space', spec);
  const [low, high] = ends.values.map((v) => v.value);
  if (typeof low !== 'number' || typeof high !== 'number')
    throw new UserError(`--space ${spec}: --${ends.key} takes words, not a range; list the values: ${ends.key}=a,b`, ExitCode.Usage);
  if (!(low < high)) throw new UserError(`--space ${spec}: the range must go from low to high`, ExitCode.Usage);
  if (log && low <= 0) throw new UserError(`--space ${spec}: a :log range must be above 0`, ExitCode.Usage);
  // A flag whose parser refuses 1.5 takes whole numbers.
  const option = prototype.options.find((o) => o.long === `--${ends.key}`)!;
  const integer = Number.isInteger(low) && Number.isInteger(high) && !accepts(option.parseArg, String(low + 0.5));
  return { kind: 'range', flag: ends.key, attribute: ends.attribute, low, high, log: !!log, integer };
}

function accepts(parse: ((value: string, previous: unknown) => unknown) | undefined, text: string): boolean {
  try {
    parse?.(text, undefined);
    return true;
  } catch {
    return false;
  }
}

/** The search space: one dimension per flag. */
export function parseSpace(specs: string[], prototype: Command): Dimension[] {
  if (!specs.length) throw new UserError('say what to search: --space flag=lo..hi[:log] or --space flag=a,b (repeatable)', ExitCode.Usage);
  const dims = specs.map((s) => parseDimension(s, prototype));
  const twice = dims.find((d, k) => dims.findIndex((e) => e.attribute === d.attribute) !== k);
  if (twice) throw new UserError(`--space ${twice.flag} is given twice; one range or list per flag`, ExitCode.Usage);
  return dims;
}

/** A point of the space: the value of each dimension, by its config attribute. */
export type Point = Record<string, unknown>;

/** How a value is shown: "lr=0.0123 units=48 bidirectional=on". */
export function describePoint(dims: Dimension[], point: Point): string {
  return dims
    .map((d) => {
      const v = point[d.attribute];
      if (d.kind === 'choice') return `${d.flag}=${d.choices.find((c) => c.value === v)?.text ?? String(v)}`;
      return `${d.flag}=${d.integer ? String(v) : Number((v as number).toPrecision(3))}`;
    })
    .join(' ');
}

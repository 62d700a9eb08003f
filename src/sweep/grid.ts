// A sweep's grid (and a tune's space) as the train flags spell it: `flag=v1,v2,…`, each value read by
// that flag's own parser, and the combinations of the axes.
import type { Command } from 'commander';
import { ExitCode, UserError } from '../errors.js';

const NOT_IN_GRID = new Set(['seed']);
const BOOLEAN_WORDS: Record<string, boolean> = { on: true, off: false, true: true, false: false, yes: true, no: false };

export interface GridAxis {
  key: string;
  attribute: string;
  values: { text: string; value: unknown }[];
}

/**
 * Parses `flag=v1,v2,…` against the train flags themselves, so every grid value is checked by the
 * same parser as on the command line. Boolean flags take on/off. Refusals name `option` (`--grid`,
 * or `--space` for a tune) and quote `shown`, the text the user typed.
 */
export function parseGridAxis(spec: string, prototype: Command, option: '--grid' | '--space' = '--grid', shown = spec): GridAxis {
  const at = `${option} ${shown}`;
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new UserError(`${at}: expected flag=value1,value2 (e.g. ${option} activation=linear,softmax)`, ExitCode.Usage);
  const key = spec.slice(0, eq).trim().replace(/^--/, '');
  const positive = key.startsWith('no-') && prototype.options.find((o) => o.long === `--${key.slice(3)}` && o.isBoolean());
  if (positive) {
    throw new UserError(
      `${at}: ${option === '--grid' ? 'a grid' : 'a search space'} names switches by their positive name, with on/off values; use ${option} ${key.slice(3)}=${spec
        .slice(eq + 1)
        .split(',')
        .map((v) => (BOOLEAN_WORDS[v.trim()] === false ? 'on' : BOOLEAN_WORDS[v.trim()] === true ? 'off' : v.trim()))
        .join(',')}`,
      ExitCode.Usage,
    );
  }
  const texts = spec
    .slice(eq + 1)
    .split(',')
    .map((v) => v.trim());
  if (texts.some((t) => t === '')) throw new UserError(`${at}: empty value in the list`, ExitCode.Usage);
  const flag = prototype.options.find((o) => o.long === `--${key}`);
  if (!flag || NOT_IN_GRID.has(key)) {
    const known = prototype.options.map((o) => o.long!.replace(/^--(no-)?/, '')).filter((k) => !NOT_IN_GRID.has(k));
    throw new UserError(`${at}: '${key}' is not a train flag that can vary; use one of ${[...new Set(known)].join(', ')}`, ExitCode.Usage);
  }
  const values = texts.map((text) => {
    if (flag.isBoolean()) {
      if (!(text in BOOLEAN_WORDS)) throw new UserError(`${at}: '${text}' is not on or off`, ExitCode.Usage);
      return { text, value: BOOLEAN_WORDS[text] };
    }
    if (flag.argChoices && !flag.argChoices.includes(text)) {
      throw new UserError(`${at}: '${text}' is not one of ${flag.argChoices.join(', ')}`, ExitCode.Usage);
    }
    try {
      return { text, value: flag.parseArg ? flag.parseArg(text, undefined) : text };
    } catch (err) {
      throw new UserError(`${at}: '${text}' is invalid for --${key}: ${(err as Error).message}`, ExitCode.Usage);
    }
  });
  // Compared after parsing: 0.001 and 1e-3, or 1 and 01, are the same run.
  const seen = new Map<string, string>();
  for (const { text, value } of values) {
    const twin = seen.get(JSON.stringify(value));
    if (twin !== undefined) throw new UserError(`${at}: '${twin}' and '${text}' are the same value; list it once`, ExitCode.Usage);
    seen.set(JSON.stringify(value), text);
  }
  return { key, attribute: flag.attributeName(), values };
}

/** Every combination of the axes' values, as labelled flag overrides. One axis per flag: a flag given twice is refused. */
export function gridCombinations(axes: GridAxis[]): { label: string; overrides: Record<string, unknown> }[] {
  const attributes = axes.map((a) => a.attribute);
  const twice = axes.find((a, k) => attributes.indexOf(a.attribute) !== k);
  if (twice) throw new UserError(`--grid ${twice.key} is given twice; put all its values in one: --grid ${twice.key}=v1,v2`, ExitCode.Usage);
  let combos: { label: string[]; overrides: Record<string, unknown> }[] = [{ label: [], overrides: {} }];
  for (const axis of axes) {
    combos = combos.flatMap((c) =>
      axis.values.map((v) => ({ label: [...c.label, `${axis.key}=${v.text}`], overrides: { ...c.overrides, [axis.attribute]: v.value } })),
    );
  }
  return combos.map((c) => ({ label: c.label.join(' '), overrides: c.overrides }));
}

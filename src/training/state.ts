// What a stopped run needs to continue: arrays by name, checked when they are put back.

/** Arrays by name, in a fixed order: the engine's parameters and optimizer slots, the best epoch's weights. */
export type StateArrays = { name: string; values: Float32Array | Float64Array }[];

/** A checkpoint's arrays do not fit the model and optimizer the config builds. */
export class StateMismatch extends Error {}

/** The array called `name`, of exactly `length` values; StateMismatch otherwise. */
export function stateArray(arrays: StateArrays, name: string, length: number): Float32Array | Float64Array {
  const found = arrays.find((a) => a.name === name);
  if (!found) throw new StateMismatch(`it has no ${name}`);
  if (found.values.length !== length) throw new StateMismatch(`its ${name} has ${found.values.length} values, expected ${length}`);
  return found.values;
}

/** Copies of `arrays`, named `<prefix>/0`, `<prefix>/1`, …: how each part of a state is stored. */
export function namedCopies(prefix: string, arrays: (Float32Array | Float64Array)[]): StateArrays {
  return arrays.map((values, i) => ({ name: `${prefix}/${i}`, values: values.slice() }));
}

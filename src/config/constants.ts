/**
 * The numbers both training engines use, defined once. The fused engine reads them here; the layers
 * engine passes them to tfjs explicitly (optimizers, normalisation layers, the loss), so the two
 * cannot drift apart if a tfjs default changes. All are Keras's defaults.
 */

/** Categorical crossentropy clips probabilities to [ε, 1 − ε] before the log (Keras's epsilon()). */
export const CROSSENTROPY_EPSILON = 1e-7;

export const ADAM = { beta1: 0.9, beta2: 0.999 } as const;

/** tfjs's RMSprop puts ε inside the square root: p −= lr·g / √(ms + ε). */
export const RMSPROP = { rho: 0.9, momentum: 0, epsilon: 1e-7 } as const;

/** tfjs's Adagrad takes no ε argument: it uses its backend's, 1e-7, inside the square root. */
export const ADAGRAD = { initialAccumulator: 0.1, epsilon: 1e-7 } as const;

export const BATCH_NORM = { momentum: 0.99, epsilon: 1e-3 } as const;

export const LAYER_NORM = { epsilon: 1e-3 } as const;

// A loaded model made again from its own topology: with a softmax output layer (the doctor's fix
// for the seed's bug), or with fresh weights (retraining a file's architecture from scratch).
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tfl = require('@tensorflow/tfjs-layers');
import { rngFor } from '../shared/random.js';
import { buildInScope } from './quiet.js';
import { headLayer } from './describe.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface Rebuild {
  /** The output layer's new activation (the layer that describeModel reads the head from). */
  head?: 'softmax';
  /** Fresh weights from the layers' own initialisers, each seeded from this seed; else the model's weights. */
  freshSeed?: number;
}

/**
 * A new model of `model`'s topology, changed as `change` says; the caller owns both. Weights are
 * copied unless `freshSeed` is given: then every initialiser gets its own seed drawn from it, so the
 * same seed gives the same weights.
 */
export async function rebuildModel(model: tfl.LayersModel, change: Rebuild): Promise<tfl.LayersModel> {
  const topology = model.toJSON(undefined, false) as Json;
  if (change.head) setHeadActivation(topology, headLayer(model).name, change.head);
  if (change.freshSeed !== undefined) seedInitializers(topology, rngFor(change.freshSeed, 'weights'));
  const rebuilt = await buildInScope(() => tfl.models.modelFromJSON({ modelTopology: topology } as never));
  if (change.freshSeed === undefined) rebuilt.setWeights(model.getWeights());
  return rebuilt;
}

/** Sets the activation of the layer `name` (or of the Dense a TimeDistributed named so wraps). */
function setHeadActivation(topology: Json, name: string, activation: string): void {
  const layers = (topology.config as Json).layers as Json[];
  const entry = layers.find((l) => isObject(l.config) && l.config.name === name)!;
  const config = entry.config as Json;
  const inner = isObject(config.layer) && isObject(config.layer.config) ? config.layer.config : config;
  inner.activation = activation;
}

/** Initialisers that draw nothing (a seed means nothing to them). */
const FIXED = new Set(['Zeros', 'Ones', 'Constant', 'Identity']);

/** Gives every `*_initializer` in the topology a seed of its own, in the order the layers list them. */
function seedInitializers(node: unknown, rng: () => number): void {
  if (Array.isArray(node)) return node.forEach((n) => seedInitializers(n, rng));
  if (!isObject(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (key.endsWith('_initializer') && isObject(value)) {
      if (FIXED.has(String(value.class_name))) continue;
      value.config = { ...(isObject(value.config) ? value.config : {}), seed: Math.floor(rng() * 2 ** 31) };
    } else seedInitializers(value, rng);
  }
}

// Keras 3 model configs (config.json of a .keras file, model_config of a .h5) to TensorFlow.js Layers
// topologies and back. tfjs reads Keras 2's format; Keras 3 added wrappers and renamed a few keys.
import { UserError } from '../../errors.js';

/** A JSON object as Keras and tfjs write them. */
export type Json = { [key: string]: unknown };

/** A JSON object (not an array, not null). */
export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keras 3 keys tfjs does not know; dropped wherever they appear. */
const KERAS3_ONLY = new Set(['module', 'registered_name', 'build_config', 'shared_object_id', 'compile_config']);

/** Thrown for models seq-tag cannot run faithfully; the message says what was found. */
export class UnsupportedModel extends UserError {}

/** Keras's naming.to_snake_case: the key of a layer's weights in a .keras file ("TimeDistributed" → "time_distributed"). */
export function snakeCase(className: string): string {
  return className
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** The groups of a model's layers in a .keras weights file: `layers/<snake_case class>`, with `_1`, `_2`, … for repeats. */
export function weightKeys(classNames: string[]): string[] {
  const used = new Map<string, number>();
  return classNames.map((name) => {
    const base = snakeCase(name);
    const count = used.get(base) ?? 0;
    used.set(base, count + 1);
    return `layers/${count === 0 ? base : `${base}_${count}`}`;
  });
}

/**
 * Where a layer's weights sit below its key in a .keras weights file, in the order tfjs's
 * `layer.getWeights()` lists them; `empty` are the groups Keras writes without datasets.
 */
export function weightGroups(className: string): { vars: string[]; empty: string[] } {
  switch (className) {
    case 'LSTM':
    case 'GRU':
    case 'SimpleRNN':
      return { vars: ['cell/vars'], empty: ['vars'] };
    case 'Bidirectional':
      return { vars: ['forward_layer/cell/vars', 'backward_layer/cell/vars'], empty: ['vars', 'forward_layer/vars', 'backward_layer/vars'] };
    case 'TimeDistributed':
      return { vars: ['layer/vars'], empty: ['vars'] };
    default:
      return { vars: ['vars'], empty: [] };
  }
}

/** Layer classes seq-tag runs (the Keras names); anything else is refused before TensorFlow.js sees it. */
export const KERAS_LAYERS = [
  'LSTM',
  'GRU',
  'SimpleRNN',
  'Bidirectional',
  'TimeDistributed',
  'Dense',
  'Embedding',
  'Masking',
  'BatchNormalization',
  'LayerNormalization',
  'Dropout',
  'Activation',
] as const;

/** What reading a config changed on the way, said once to the user ("regularizers … ignored"). */
export type Notes = Set<string>;

/** Keys that only matter while training in Keras: kept out of the tfjs model, said once. */
const TRAINING_ONLY = /_(regularizer|constraint)$/;

/** The dtype of a layer (a Keras 3 policy or Keras 2's plain name) as tfjs's float32; float64 is cast, mixed precision refused. */
function plainDtype(policy: unknown, notes: Notes): unknown {
  const name = isObject(policy) ? (isObject(policy.config) ? policy.config.name : undefined) : policy;
  if (name === 'float32' || name === 'int32' || name === undefined) return name === 'int32' ? 'int32' : 'float32';
  if (name === 'float64') {
    notes.add('its float64 layers run in float32 here (TensorFlow.js has no float64 tensors): outputs agree with Keras to about 1e-6');
    return 'float32';
  }
  throw new UnsupportedModel(`it uses the dtype policy ${String(name)}, which seq-tag cannot run faithfully; save it from Keras with the float32 policy`);
}

/** Keras 3's hard_sigmoid is relu6(x + 3) / 6; tfjs's (and Keras 2's) is clip(0.2x + 0.5): same name, different function. */
const HARD_SIGMOID_MISMATCH =
  "it uses Keras 3's hard_sigmoid (relu6(x + 3) / 6), which TensorFlow.js's hard_sigmoid (clip(0.2x + 0.5, 0, 1)) is not: its outputs would differ; use sigmoid gates";

/** A layer entry ({class_name, config}) refused unless seq-tag runs its class; GRU(reset_after=True) runs as ResetAfterGRU (./gru.ts). */
function layerClass(value: Json, keras3: boolean): void {
  const name = String(value.class_name);
  const config = isObject(value.config) ? value.config : {};
  if (name === 'InputLayer' || name === 'Sequential' || name === 'Functional' || name === 'Model') return;
  if (!(KERAS_LAYERS as readonly string[]).includes(name)) {
    throw new UnsupportedModel(
      `it has ${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name} layer (${String(config.name ?? '?')}), which seq-tag cannot run; seq-tag runs ${KERAS_LAYERS.join(', ')}: build the tagger from those`,
    );
  }
  // Keras 3 and tf.keras 2 default to reset_after=True; Keras 2.2 wrote the key with False.
  if (name === 'GRU' && config.reset_after !== false && (keras3 || config.reset_after === true)) value.class_name = 'ResetAfterGRU';
  if (name === 'GRU') delete config.reset_after;
}

/** Keys whose values are layer entries. */
const LAYER_KEYS = new Set(['layers', 'layer', 'backward_layer']);

function clean(value: unknown, keras3: boolean, notes: Notes, isLayer = false): unknown {
  if (Array.isArray(value)) return value.map((v) => clean(v, keras3, notes, isLayer));
  if (!isObject(value)) return value;
  if (isLayer) layerClass(value, keras3);
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) {
    if (KERAS3_ONLY.has(key)) continue;
    if (TRAINING_ONLY.test(key)) {
      if (v !== null) notes.add("its regularizers and constraints act only in training: ignored for inference and by seq-tag's burst");
      continue;
    }
    if (key === 'dtype') out[key] = plainDtype(v, notes);
    else if (keras3 && (key === 'activation' || key === 'recurrent_activation') && v === 'hard_sigmoid') throw new UnsupportedModel(HARD_SIGMOID_MISMATCH);
    else out[key] = clean(v, keras3, notes, LAYER_KEYS.has(key));
  }
  return out;
}

/** Keras 3 functional node `{args: [keras tensor], kwargs}` → Keras 2's `[[name, node, tensor, {}]]`. */
function inboundNodes(nodes: unknown): unknown {
  if (!Array.isArray(nodes)) return nodes;
  return nodes.map((node) => {
    if (Array.isArray(node)) return node;
    const args = isObject(node) && Array.isArray(node.args) ? node.args : [];
    const history = args.map((arg) => (isObject(arg) && isObject(arg.config) ? arg.config.keras_history : undefined));
    if (history.length !== 1 || !Array.isArray(history[0])) throw new UnsupportedModel('it has a layer with several inputs; seq-tag reads single-input models');
    return [[...history[0], {}]];
  });
}

/** Bidirectional's backward layer must be the forward one reversed, which is all tfjs can build. */
function checkMirror(config: Json): void {
  const forward = config.layer;
  const backward = config.backward_layer;
  if (backward === undefined) return;
  const strip = (layer: unknown) => {
    const c = isObject(layer) && isObject(layer.config) ? { ...layer.config } : {};
    delete c.name;
    delete c.go_backwards;
    return JSON.stringify({ class_name: isObject(layer) ? layer.class_name : undefined, c });
  };
  if (strip(forward) !== strip(backward))
    throw new UnsupportedModel('its Bidirectional layer has a backward layer unlike its forward one; TensorFlow.js builds mirrored ones only');
  delete config.backward_layer;
}

/** One layer entry of a Keras config, made readable by tfjs. */
function layerForTfjs(layer: Json): Json {
  const config = isObject(layer.config) ? layer.config : {};
  if (layer.class_name === 'InputLayer' && config.batch_shape !== undefined) {
    config.batch_input_shape = config.batch_shape;
    delete config.batch_shape;
  }
  if (layer.class_name === 'Bidirectional') checkMirror(config);
  if (layer.inbound_nodes !== undefined) layer.inbound_nodes = inboundNodes(layer.inbound_nodes);
  return layer;
}

/** A Keras 3 functional node argument that is a tensor: the name of the layer or op that made it. */
function producer(arg: unknown): string | undefined {
  if (!isObject(arg) || arg.class_name !== '__keras_tensor__' || !isObject(arg.config)) return undefined;
  const history = arg.config.keras_history;
  return Array.isArray(history) ? String(history[0]) : undefined;
}

/**
 * Keras 3 writes an op applied to tensors outside a layer (`x != 0`, `ops.cast`) as a node of module
 * keras.src.ops.*; its legacy .h5 drops the module, but an op's config, unlike every layer's, has no `trainable`.
 */
const isOp = (layer: Json) =>
  typeof layer.module === 'string'
    ? /^keras(\.src)?\.ops\b/.test(layer.module)
    : isObject(layer.config) && !('trainable' in layer.config) && layer.class_name !== 'InputLayer';

const nodesOf = (layer: Json): Json[] => (Array.isArray(layer.inbound_nodes) ? layer.inbound_nodes.filter(isObject) : []);
const argsOf = (node: Json): unknown[] => (Array.isArray(node.args) ? node.args.flat() : []);

/** The mask an op computes, if it is one a masking layer makes: NotEqual(x, v), or Any(NotEqual(x, v), axis -1) for Masking. */
function maskRule(op: Json, byName: Map<string, Json>): { from: string; value: number; perStep: boolean } | undefined {
  const [node] = nodesOf(op);
  const args = node ? argsOf(node) : [];
  const config = isObject(op.config) ? op.config : {};
  if (op.class_name === 'NotEqual' && args.length === 2 && producer(args[0]) && typeof args[1] === 'number') {
    return { from: producer(args[0])!, value: args[1], perStep: false };
  }
  const inner = op.class_name === 'Any' && args.length === 1 ? byName.get(producer(args[0]) ?? '') : undefined;
  const axis = Array.isArray(config.axis) && config.axis.length === 1 ? config.axis[0] : config.axis;
  if (!inner || !isOp(inner) || axis !== -1 || config.keepdims === true) return undefined;
  const rule = maskRule(inner, byName);
  return rule && !rule.perStep ? { ...rule, perStep: true } : undefined;
}

/** The layer that makes `rule`'s mask the way TensorFlow.js carries it: an Embedding(mask_zero) or Masking fed by the same tensor. */
function maskLayer(rule: { from: string; value: number; perStep: boolean }, layers: Json[]): Json | undefined {
  return layers.find((layer) => {
    const config = isObject(layer.config) ? layer.config : {};
    const fed = nodesOf(layer).some((node) => producer(argsOf(node)[0]) === rule.from);
    if (!fed) return false;
    if (rule.perStep) return layer.class_name === 'Masking' && (config.mask_value ?? 0) === rule.value;
    return layer.class_name === 'Embedding' && config.mask_zero === true && rule.value === 0;
  });
}

/** Whether `source` lies on the chain of first inputs that leads to `layer`. */
function upstream(source: Json, layer: Json, byName: Map<string, Json>): boolean {
  for (let at: Json | undefined = layer, hops = 0; at && hops <= byName.size; hops++) {
    const [node] = nodesOf(at);
    at = node ? byName.get(producer(argsOf(node)[0]) ?? '') : undefined;
    if (at === source) return true;
  }
  return false;
}

/**
 * A Keras 3 functional config without the op nodes Keras writes for masks. `Embedding(mask_zero=True)`
 * and `Masking` make their mask as `NotEqual` (and `Any`) nodes passed to the later layers as `mask`;
 * TensorFlow.js makes the same mask inside those layers and carries it on, so those nodes and the
 * `mask` arguments are dropped. Any other op (Cast, Multiply, Add of tensors, …), or a mask that is
 * not the one such a layer makes, is refused by name. Returns `modelConfig`, changed in place.
 */
export function withoutMaskOps(modelConfig: Json): Json {
  const config = isObject(modelConfig.config) ? modelConfig.config : {};
  const layers = (Array.isArray(config.layers) ? config.layers : []).filter(isObject);
  if (!layers.some(isOp)) return modelConfig;
  const byName = new Map(layers.map((layer) => [String(layer.name ?? (isObject(layer.config) ? layer.config.name : '')), layer]));
  const refuse = (op: Json, why: string): never => {
    throw new UnsupportedModel(
      `its graph applies the Keras op ${String(op.class_name)} (${String(op.name)}) ${why}; seq-tag reads graphs of layers, with the masks Embedding(mask_zero=True) and Masking make: make that step a layer or drop it`,
    );
  };
  for (const layer of layers.filter((l) => !isOp(l))) {
    for (const node of nodesOf(layer)) {
      const fromOp = argsOf(node)
        .map((arg) => byName.get(producer(arg) ?? ''))
        .find((source) => source && isOp(source));
      if (fromOp) refuse(fromOp, `to the tensors layer ${String(layer.name)} reads`);
      const kwargs = isObject(node.kwargs) ? node.kwargs : {};
      const maskOp = byName.get(producer(kwargs.mask) ?? '');
      if (kwargs.mask !== undefined && kwargs.mask !== null && !maskOp)
        throw new UnsupportedModel(`its layer ${String(layer.name)} is given a mask seq-tag cannot trace`);
      if (maskOp) {
        const rule = isOp(maskOp) ? maskRule(maskOp, byName) : undefined;
        const source = rule && maskLayer(rule, layers);
        if (!source || !upstream(source, layer, byName))
          refuse(
            maskOp,
            `to make the mask layer ${String(layer.name)} reads, which is not the mask of an Embedding(mask_zero=True) or Masking layer before it`,
          );
      }
      delete kwargs.mask;
    }
  }
  const outputs = JSON.stringify(config.output_layers ?? []);
  for (const op of layers.filter(isOp)) {
    if (outputs.includes(JSON.stringify(String(op.name)))) refuse(op, "to make the model's output");
    if (!maskRule(op, byName)) refuse(op, 'to its tensors');
  }
  config.layers = layers.filter((layer) => !isOp(layer));
  return modelConfig;
}

/** `['digits', 0, 0]` (Keras 3, one tensor) → `[['digits', 0, 0]]`. */
const tensorList = (v: unknown) => (Array.isArray(v) && typeof v[0] === 'string' ? [v] : v);

/**
 * Every layer a functional graph names (as an input of a node, or as the model's input or output) is
 * one of its layers: TensorFlow.js waits for a missing one forever (a hang on a crafted file).
 */
function checkReferences(layers: Json[], config: Json): void {
  const names = new Set(layers.map((layer) => layer.name));
  const missing = (ref: unknown) => !Array.isArray(ref) || !names.has(ref[0]);
  for (const layer of layers) {
    const nodes = Array.isArray(layer.inbound_nodes) ? layer.inbound_nodes : [];
    const refs = nodes.flatMap((node) => (Array.isArray(node) ? node : [node]));
    const bad = refs.find(missing);
    if (bad !== undefined) throw new UnsupportedModel(`its layer ${String(layer.name)} reads from ${JSON.stringify(bad)}, which is not one of its layers`);
  }
  for (const key of ['input_layers', 'output_layers']) {
    const refs = Array.isArray(config[key]) ? (config[key] as unknown[]) : [];
    if (refs.length === 0) throw new UnsupportedModel(`its ${key} list no layer`);
    const bad = refs.find(missing);
    if (bad !== undefined) throw new UnsupportedModel(`its ${key} name ${JSON.stringify(bad)}, which is not one of its layers`);
  }
}

/**
 * The graph can be built as TensorFlow.js builds it: a layer's node is made once every layer it reads
 * has the node it names (an InputLayer has its one node from the start), pass after pass until none is
 * left. tfjs repeats the passes forever when one never can be (a hang on a crafted file: an InputLayer
 * renamed to another class leaves the layers after it waiting), so a pass that makes nothing is refused.
 */
function checkBuildable(layers: Json[]): void {
  const made = new Map<unknown, number>(layers.map((layer) => [layer.name, layer.class_name === 'InputLayer' ? 1 : 0]));
  let pending = layers.flatMap((layer) =>
    (Array.isArray(layer.inbound_nodes) ? layer.inbound_nodes : []).map((node) => ({ layer, refs: (Array.isArray(node) ? node : [node]) as unknown[] })),
  );
  const ready = (ref: unknown) => Array.isArray(ref) && (made.get(ref[0]) ?? 0) > (Number.isInteger(ref[1]) ? (ref[1] as number) : 0);
  while (pending.length) {
    const waiting = pending.filter(({ layer, refs }) => {
      if (!refs.every(ready)) return true;
      made.set(layer.name, (made.get(layer.name) ?? 0) + 1);
      return false;
    });
    if (waiting.length === pending.length) {
      const { layer, refs } = waiting[0];
      const ref = refs.find((r) => !ready(r)) as unknown[];
      throw new UnsupportedModel(`its layer ${String(layer.name)} reads node ${String(ref[1])} of ${String(ref[0])}, which no input ever reaches`);
    }
    pending = waiting;
  }
}

/**
 * A Keras 2 or 3 model config as a tfjs Layers topology: Keras 3's wrappers dropped, dtype policies
 * made plain (float32 only), functional nodes in Keras 2 form, a Sequential's InputLayer folded
 * into the first layer's batch_input_shape. Throws UnsupportedModel for what tfjs would run wrongly.
 */
export function topologyForTfjs(modelConfig: Json, kerasVersion: string, notes: Notes = new Set()): Json {
  const keras3 = Number.parseInt(kerasVersion, 10) >= 3;
  const model = clean(modelConfig, keras3, notes) as Json;
  // Keras 2.1 wrote a Sequential's config as the bare list of its layers.
  if (Array.isArray(model.config)) model.config = { layers: model.config };
  const config = isObject(model.config) ? model.config : {};
  if (!Array.isArray(config.layers)) throw new UnsupportedModel(`its ${String(model.class_name)} config lists no layers`);
  const layers = (config.layers as Json[]).map(layerForTfjs);
  if (model.class_name === 'Sequential') {
    const input = layers[0]?.class_name === 'InputLayer' ? layers.shift() : undefined;
    const first = layers[0];
    if (input && isObject(first?.config)) first.config.batch_input_shape = (input.config as Json).batch_input_shape;
  } else if (model.class_name === 'Functional' || model.class_name === 'Model') {
    model.class_name = 'Model';
    config.input_layers = tensorList(config.input_layers);
    config.output_layers = tensorList(config.output_layers);
    checkReferences(layers, config);
    checkBuildable(layers);
  } else {
    throw new UnsupportedModel(`it is a ${String(model.class_name)}; seq-tag reads Sequential and functional models`);
  }
  config.layers = layers;
  return model;
}

/** Initialiser arguments Keras 3 accepts, per class (tfjs adds scale/mode/distribution to the Glorot family). */
const INITIALIZER_ARGS: Record<string, string[]> = {
  Orthogonal: ['seed', 'gain'],
  RandomUniform: ['seed', 'minval', 'maxval'],
  RandomNormal: ['seed', 'mean', 'stddev'],
  TruncatedNormal: ['seed', 'mean', 'stddev'],
  Constant: ['value'],
  VarianceScaling: ['seed', 'scale', 'mode', 'distribution'],
};

function kerasInitializer(init: Json): Json {
  const config = isObject(init.config) ? init.config : {};
  const keep = INITIALIZER_ARGS[String(init.class_name)] ?? ['seed'];
  const args = Object.fromEntries(keep.filter((k) => config[k] !== undefined).map((k) => [k, config[k]]));
  return { module: 'keras.initializers', class_name: init.class_name, config: args, registered_name: null };
}

/** tfjs layer arguments Keras 3 does not take. */
const TFJS_ONLY = new Set(['implementation', 'batch_input_shape', 'input_dtype']);

function kerasValue(key: string, value: unknown): unknown {
  if (key.endsWith('_initializer') && isObject(value)) return kerasInitializer(value);
  if ((key === 'activation' || key === 'recurrent_activation') && value === 'hard_sigmoid') {
    throw new UnsupportedModel(
      'it uses the hard_sigmoid of TensorFlow.js and Keras 2 (clip(0.2x + 0.5, 0, 1)), which Keras 3 would load silently as its own hard_sigmoid (relu6(x + 3) / 6) and compute other outputs; retrain with sigmoid gates (seq-tag: --recurrent-activation sigmoid; Keras: recurrent_activation="sigmoid")',
    );
  }
  if ((key === 'layer' || key === 'backward_layer') && isObject(value)) return kerasLayer(value);
  return value;
}

/** Keras's class name of a tfjs layer class: seq-tag's ResetAfterGRU is Keras's GRU (./gru.ts). */
export const kerasClassName = (className: string) => (className === 'ResetAfterGRU' ? 'GRU' : className);

/** One tfjs layer entry as Keras 3 writes it. */
function kerasLayer(layer: Json): Json {
  const config: Json = {};
  for (const [key, value] of Object.entries(isObject(layer.config) ? layer.config : {})) if (!TFJS_ONLY.has(key)) config[key] = kerasValue(key, value);
  return { module: 'keras.layers', class_name: kerasClassName(String(layer.class_name)), config, registered_name: null };
}

/**
 * A functional tfjs topology that is a plain chain (one input, each layer fed by the one before)
 * as the layer list of the equivalent Sequential, with the input's shape on the first layer.
 */
function chainOf(config: Json): Json[] {
  const layers = (Array.isArray(config.layers) ? config.layers : []) as Json[];
  const [input, ...rest] = layers;
  const feeds = (layer: Json) => JSON.stringify(layer.inbound_nodes).match(/"([^"]+)"/)?.[1];
  const chained = input?.class_name === 'InputLayer' && rest.every((layer, i) => feeds(layer) === (layers[i].config as Json).name);
  if (!chained || rest.length === 0) throw new UnsupportedModel('seq-tag exports Sequential models and functional models that are a plain chain of layers');
  const first = { ...rest[0], config: { ...(rest[0].config as Json), batch_input_shape: (input.config as Json).batch_input_shape } };
  return [first, ...rest.slice(1)];
}

/**
 * A tfjs topology (`model.toJSON(null, false)`) as a Keras 3 config.json of a Sequential model: an
 * explicit InputLayer with `batch_shape`, each layer and initialiser in Keras 3's wrapper. A
 * functional model that is a plain chain is written as the equivalent Sequential.
 */
export function kerasConfigFromTfjs(topology: Json): Json {
  const config = isObject(topology.config) ? topology.config : {};
  const layers = topology.class_name === 'Sequential' ? ((Array.isArray(config.layers) ? config.layers : []) as Json[]) : chainOf(config);
  if (layers.length === 0) throw new UnsupportedModel('the model has no layers');
  const batchShape = (layers[0].config as Json).batch_input_shape;
  const input = {
    module: 'keras.layers',
    class_name: 'InputLayer',
    config: { batch_shape: batchShape, dtype: 'float32', sparse: false, name: 'input_layer' },
    registered_name: null,
  };
  return {
    module: 'keras',
    class_name: 'Sequential',
    config: { name: config.name ?? 'sequential', trainable: true, layers: [input, ...layers.map(kerasLayer)] },
    registered_name: null,
    build_config: { input_shape: batchShape },
  };
}

/** A size field of a layer config (units, input_dim, …): a whole number from 1 to a million, or the refusal says which. */
function sizeOf(config: Json, key: string, layer: string): number {
  const v = config[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1e6) {
    throw new UnsupportedModel(`its layer ${layer} has ${key} ${JSON.stringify(v)}; a size must be a whole number from 1 to 1,000,000`);
  }
  return v;
}

/** Parameters of one layer entry given the width of its input, and the width of its output. */
function layerSize(layer: Json, width: number): { parameters: number; width: number } {
  const config = isObject(layer.config) ? layer.config : {};
  const name = String(config.name ?? layer.class_name);
  const units = () => sizeOf(config, 'units', name);
  switch (layer.class_name) {
    case 'LSTM':
      return { parameters: 4 * units() * (width + units() + 1), width: units() };
    case 'GRU':
      // reset_after (Keras 3's default) keeps two biases per gate.
      return { parameters: 3 * units() * (width + units() + (config.reset_after === false ? 1 : 2)), width: units() };
    case 'SimpleRNN':
    case 'Dense':
      return { parameters: units() * (width + (layer.class_name === 'Dense' ? 1 : units() + 1)), width: units() };
    case 'Embedding':
      return { parameters: sizeOf(config, 'input_dim', name) * sizeOf(config, 'output_dim', name), width: sizeOf(config, 'output_dim', name) };
    case 'BatchNormalization':
      return { parameters: 4 * width, width };
    case 'LayerNormalization':
      return { parameters: 2 * width, width };
    case 'TimeDistributed':
    case 'Bidirectional': {
      const inner = layerSize(isObject(config.layer) ? config.layer : {}, width);
      if (layer.class_name === 'TimeDistributed') return inner;
      return { parameters: 2 * inner.parameters, width: (config.merge_mode ?? 'concat') === 'concat' ? 2 * inner.width : inner.width };
    }
    default:
      return { parameters: 0, width };
  }
}

/**
 * How many parameters a tfjs-ready topology declares, from its sizes alone (before anything is
 * built): the input's feature width flows through the layers in order. A lying config (an LSTM of
 * 30,000 units in a 40 kB file) is caught here rather than by the allocator.
 */
export function declaredParameters(topology: Json): number {
  const config = isObject(topology.config) ? topology.config : {};
  const layers = (Array.isArray(config.layers) ? config.layers : []) as Json[];
  const first = layers[0];
  const shape = isObject(first?.config) ? first.config.batch_input_shape : undefined;
  const last = Array.isArray(shape) ? shape.at(-1) : undefined;
  let width = typeof last === 'number' && Number.isFinite(last) && last > 0 && (shape as unknown[]).length > 2 ? last : 1;
  if (width > 1e6) throw new UnsupportedModel(`its input has ${width} features per step; seq-tag reads at most 1,000,000`);
  let parameters = 0;
  for (const layer of layers) {
    const size = layerSize(layer, width);
    parameters += size.parameters;
    width = size.width;
  }
  return parameters;
}

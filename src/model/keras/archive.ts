// Keras's own model files: the Keras 3 native `.keras` (a zip of config.json, metadata.json and
// model.weights.h5) and the legacy full-model `.h5`, read into a tfjs Layers model and written back.
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import tfl = require('@tensorflow/tfjs-layers');
import { zipSync } from 'fflate';
import { readHdf5, writeHdf5, type Array32, type Hdf5Attribute, type Hdf5Content, type Hdf5Reader } from './hdf5.js';
import {
  declaredParameters,
  kerasClassName,
  kerasConfigFromTfjs,
  snakeCase,
  isObject,
  topologyForTfjs,
  withoutMaskOps,
  UnsupportedModel,
  weightGroups,
  weightKeys,
  type Json,
  type Notes,
} from './topology.js';
import { buildInScope } from '../quiet.js';
import './gru.js';
import './bidirectional.js';
import { KERAS_OPTIMIZERS, type OptimizerName } from '../../config/config.js';
import { formatBytes } from '../../shared/format.js';
import { LIMITS, nestsDeeperThan } from '../../shared/limits.js';
import { BadZip, readZipEntry, zipEntries } from '../../storage/zip.js';

/** The Keras version whose loader seq-tag's exports were checked against (scripts/keras_roundtrip.py). */
export const EXPORTED_KERAS_VERSION = '3.15.1';

/** What the model was compiled with, as far as seq-tag's checks need it. */
export interface CompileInfo {
  /** Keras's snake_case loss name, aliases spelled out: "categorical_crossentropy", "mean_squared_error". */
  loss: string;
  fromLogits: boolean;
  labelSmoothing?: number;
  optimizer?: { name: string; lr?: number; epsilon?: number; clipnorm?: number; clipvalue?: number };
  /** The file's own compile config in Keras 3's form, written back unchanged by an export. */
  keras?: Json;
  /** Settings of a Keras 2 file that Keras 3 cannot express, so an export to `.keras` drops them ("decay 1e-06"). */
  dropped?: string[];
  /**
   * The model's output is a softmax or sigmoid that Keras's crossentropies see through: its activation
   * keeps its input (`_keras_logits`), and Keras computes those losses from that, as from_logits=True.
   * So only when the last layer is a Dense or Activation itself; a TimeDistributed's reshape loses it.
   */
  outputLogits?: boolean;
}

/** A Keras model file read into tfjs. */
export interface KerasFile {
  model: tfl.LayersModel;
  kerasVersion: string;
  compile?: CompileInfo;
  /** What reading changed on the way (float64 cast, regularizers ignored), to say once. */
  notes: string[];
}

/** Keras's loss aliases, as `keras.losses.get` resolves them. */
const LOSS_ALIASES: Record<string, string> = {
  mse: 'mean_squared_error',
  mae: 'mean_absolute_error',
  mape: 'mean_absolute_percentage_error',
  msle: 'mean_squared_logarithmic_error',
};

/** A loss as Keras stores it (a name, a class, or a function in `.keras`) as its snake_case name. */
function lossName(loss: unknown): string | undefined {
  let name: string | undefined;
  if (typeof loss === 'string') name = loss;
  else if (isObject(loss) && loss.class_name === 'function' && typeof loss.config === 'string') name = loss.config;
  else if (isObject(loss) && typeof loss.class_name === 'string') name = snakeCase(loss.class_name);
  return name && (LOSS_ALIASES[name] ?? name);
}

/** Raised for a file that is not what its name says (bad zip, missing member, broken HDF5); the caller names the file. */
export class BrokenFile extends Error {}

const finiteOr = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** A JSON object from a model file: bounded in size and depth (a config nested 100k levels deep is refused here). */
export function parseJson(text: string, what: string): Json {
  if (text.length > LIMITS.jsonBytes) throw new BrokenFile(`its ${what} is larger than ${formatBytes(LIMITS.jsonBytes)}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // reported below
  }
  if (!isObject(value)) throw new BrokenFile(`its ${what} is not a JSON object`);
  if (nestsDeeperThan(value, LIMITS.jsonDepth)) throw new BrokenFile(`its ${what} nests deeper than ${LIMITS.jsonDepth} levels, which no Keras model does`);
  return value;
}

/** The parameters a tfjs-ready topology declares, refused (UnsupportedModel) beyond what seq-tag will allocate: any model's file, before anything is built. */
export function checkParameterLimit(topology: Json): number {
  const declared = declaredParameters(topology);
  if (declared > LIMITS.parameters) {
    throw new UnsupportedModel(
      `its config declares about ${(declared / 1e6).toFixed(0)} million parameters (${((declared * 4) / 1e9).toFixed(1)} GB); seq-tag runs models of up to ${LIMITS.parameters / 1e6} million`,
    );
  }
  return declared;
}

/** Refuses a config whose sizes are not what its weights hold, or more than seq-tag will allocate, before anything is built. */
function checkDeclaredSize(topology: Json, storedValues: number): void {
  const declared = checkParameterLimit(topology);
  // Keras's parameter count is exact for these layers; a little slack for layers counted as 0.
  if (declared > storedValues * 1.01 + 1024) {
    throw new BrokenFile(
      `its config declares about ${declared.toLocaleString('en-US')} parameters but its weights hold ${storedValues.toLocaleString('en-US')} values`,
    );
  }
}

/** Keys of Keras 3's compile_config. */
const KERAS3_COMPILE = ['loss', 'loss_weights', 'metrics', 'weighted_metrics', 'run_eagerly', 'steps_per_execution', 'jit_compile'];

/**
 * A compile config in Keras 3's form: a `.keras` file's as it is; a `.h5` file's training_config
 * with Keras 2's `optimizer_config` and `lr` translated, and what Keras 3 cannot take listed.
 */
function keras3Compile(config: Json): { keras: Json; dropped: string[] } {
  if (config.optimizer !== undefined) return { keras: config, dropped: [] };
  const dropped: string[] = [];
  const keras: Json = {};
  for (const key of KERAS3_COMPILE) if (config[key] !== undefined) keras[key] = config[key];
  if (config.metrics !== undefined && !(Array.isArray(config.metrics) && config.metrics.every((m) => typeof m === 'string'))) {
    keras.metrics = null;
    dropped.push('its metrics (in a Keras 2 form)');
  }
  if (config.sample_weight_mode) dropped.push(`sample_weight_mode ${JSON.stringify(config.sample_weight_mode)}`);
  const optimizer = config.optimizer_config;
  if (isObject(optimizer) && isObject(optimizer.config)) {
    const options: Json = { ...optimizer.config };
    if (options.lr !== undefined) options.learning_rate ??= options.lr;
    delete options.lr;
    if (typeof options.decay === 'number' && options.decay !== 0) dropped.push(`the optimizer's decay ${options.decay}`);
    for (const key of ['decay', 'is_legacy_optimizer', 'jit_compile']) delete options[key];
    keras.optimizer = { module: 'keras.optimizers', class_name: optimizer.class_name, config: options, registered_name: null };
  }
  return { keras, dropped };
}

/** Keras's loss and optimizer configs (compile_config of .keras, training_config of .h5 or a tfjs folder) as CompileInfo. */
export function compileInfo(config: unknown): CompileInfo | undefined {
  if (!isObject(config)) return undefined;
  const loss = config.loss;
  const name = lossName(loss);
  if (!name) return undefined;
  const lossConfig = isObject(loss) && isObject(loss.config) ? loss.config : {};
  const optimizer = config.optimizer ?? config.optimizer_config;
  const opt = isObject(optimizer) && isObject(optimizer.config) ? optimizer.config : undefined;
  // Keras 2.2 and earlier wrote `lr`; stored as float32 (0.0010000000474974513), shown as the user typed it.
  const lr = finiteOr(opt?.learning_rate) ?? finiteOr(opt?.lr);
  return {
    loss: name,
    fromLogits: lossConfig.from_logits === true,
    labelSmoothing: finiteOr(lossConfig.label_smoothing) || undefined,
    optimizer: opt && {
      name: String((optimizer as Json).class_name).toLowerCase(),
      lr: lr === undefined ? undefined : Number(lr.toPrecision(7)),
      epsilon: finiteOr(opt.epsilon),
      clipnorm: finiteOr(opt.clipnorm),
      clipvalue: finiteOr(opt.clipvalue),
    },
    ...keras3Compile(config),
  };
}

/** `compile` with `outputLogits` set when the model's last layer is a Dense or Activation ending in softmax or sigmoid. */
export function withHead(compile: CompileInfo | undefined, model: tfl.LayersModel): CompileInfo | undefined {
  const last = model.layers[model.layers.length - 1];
  const activation = (last?.getConfig() as { activation?: unknown }).activation;
  const carries = ['Dense', 'Activation'].includes(last?.getClassName() ?? '') && (activation === 'softmax' || activation === 'sigmoid');
  return compile && carries ? { ...compile, outputLogits: true } : compile;
}

/** Builds the tfjs model from a Keras config and fills each layer's weights from `weightsOf(kerasLayerEntry, index)`. */
async function assemble(modelConfig: Json, kerasVersion: string, weightsOf: (layer: Json) => Array32[]): Promise<{ model: tfl.LayersModel; notes: string[] }> {
  const notes: Notes = new Set();
  const topology = topologyForTfjs(modelConfig, kerasVersion, notes);
  const layerEntries = isObject(modelConfig.config) && Array.isArray(modelConfig.config.layers) ? (modelConfig.config.layers as Json[]) : [];
  checkDeclaredSize(
    topology,
    layerEntries.flatMap(weightsOf).reduce((sum, a) => sum + a.values.length, 0),
  );
  let model: tfl.LayersModel;
  try {
    model = await buildInScope(() => tfl.models.modelFromJSON({ modelTopology: topology } as never));
  } catch (err) {
    // tfjs's messages run on over several lines ("… This may be due to one of the following reasons:"): its first sentence.
    const first = (err as Error).message.split(/(?<=\.)\s|\n/)[0].replace(/\.$/, '');
    throw new UnsupportedModel(`TensorFlow.js cannot build it (${first}); save it from Keras with the layers seq-tag lists in its README`);
  }
  const entries = ((modelConfig.config as Json).layers as Json[]).filter((l) => l.class_name !== 'InputLayer');
  entries.forEach((entry) => {
    const name = String((entry.config as Json).name);
    const layer = model.getLayer(name);
    const arrays = weightsOf(entry);
    const expected = layer.weights.map((w) => w.shape);
    const same = arrays.length === expected.length && arrays.every((a, i) => a.shape.join() === expected[i].join());
    if (!same) {
      model.dispose();
      throw new BrokenFile(`layer ${name} has weights of shapes ${JSON.stringify(arrays.map((a) => a.shape))}, expected ${JSON.stringify(expected)}`);
    }
    const tensors = arrays.map((a) => tf.tensor(a.values, a.shape));
    layer.setWeights(tensors);
    tf.dispose(tensors);
  });
  return { model, notes: [...notes] };
}

/** The datasets of an HDF5 group named 0, 1, 2, … in numeric order (HDF5 lists 0, 1, 10, 11, 2, …). */
function numberedDatasets(file: Hdf5Reader, group: string): Array32[] {
  const keys = (file.keys(group) ?? []).filter((k) => /^\d+$/.test(k)).sort((a, b) => Number(a) - Number(b));
  return keys.map((k) => file.dataset(`${group}/${k}`)).filter((d): d is Array32 => d !== undefined);
}

/** Weights of a .keras file, per layer entry: keyed by snake_case class name, `_1`, `_2` for repeats. */
function kerasWeights(file: Hdf5Reader, entries: Json[]): Map<Json, Array32[]> {
  const keys = weightKeys(entries.map((e) => String(e.class_name)));
  const weights = new Map<Json, Array32[]>();
  entries.forEach((entry, i) => {
    const key = keys[i];
    weights.set(
      entry,
      weightGroups(String(entry.class_name)).vars.flatMap((group) => numberedDatasets(file, `${key}/${group}`)),
    );
  });
  return weights;
}

/** Reads a Keras 3 `.keras` file's bytes. */
export async function readKerasArchive(bytes: Uint8Array): Promise<KerasFile> {
  // Only the three entries a model needs are inflated, each within its limit.
  const { member, has } = zipMembers(bytes);
  for (const name of ['config.json', 'model.weights.h5']) if (!has(name)) throw new BrokenFile(`it has no ${name}`);
  const text = (name: string) => new TextDecoder().decode(member(name, LIMITS.jsonBytes));
  const config = withoutMaskOps(parseJson(text('config.json'), 'config.json'));
  const metadata = has('metadata.json') ? parseJson(text('metadata.json'), 'metadata.json') : {};
  const kerasVersion = String(metadata.keras_version ?? '3');
  const entries =
    isObject(config.config) && Array.isArray(config.config.layers) ? (config.config.layers as Json[]).filter((l) => l.class_name !== 'InputLayer') : [];
  const weights = await readHdf5Safely(member('model.weights.h5', LIMITS.entryBytes), (file) => kerasWeights(file, entries));
  const { model, notes } = await assemble(config, kerasVersion, (entry) => weights.get(entry) ?? []);
  return { model, notes, kerasVersion, compile: withHead(compileInfo(config.compile_config), model) };
}

/** A zip's entries, read one by one on demand within a limit; zip faults become BrokenFile. */
function zipMembers(bytes: Uint8Array): { member: (name: string, limit: number) => Uint8Array; has: (name: string) => boolean } {
  const fault = (err: unknown) => (err instanceof BadZip ? new BrokenFile(err.message) : err);
  let entries: ReturnType<typeof zipEntries>;
  try {
    entries = zipEntries(bytes);
  } catch (err) {
    throw fault(err);
  }
  return {
    has: (name) => entries.has(name),
    member: (name, limit) => {
      try {
        return readZipEntry(bytes, entries.get(name)!, limit);
      } catch (err) {
        throw fault(err);
      }
    },
  };
}

async function readHdf5Safely<T>(bytes: Uint8Array, read: (file: Hdf5Reader) => T): Promise<T> {
  try {
    return await readHdf5(bytes, read);
  } catch (err) {
    if (err instanceof UnsupportedModel || err instanceof BrokenFile) throw err;
    throw new BrokenFile(`its HDF5 data is unreadable (${(err as Error).message.split('\n')[0]})`);
  }
}

/** Reads a legacy Keras full-model `.h5` file's bytes (model_config and model_weights/<layer>/<weight_names>). */
export async function readLegacyH5(bytes: Uint8Array): Promise<KerasFile> {
  const { config, kerasVersion, training, weights } = await readHdf5Safely(bytes, (file) => {
    const modelConfig = file.attribute('', 'model_config');
    if (typeof modelConfig !== 'string') throw new BrokenFile('it holds weights only (no model_config); save the whole model with model.save("tagger.keras")');
    const layerWeights = (name: string) => {
      const names = file.attribute(`model_weights/${name}`, 'weight_names');
      return (Array.isArray(names) ? names : []).map((w) => file.dataset(`model_weights/${name}/${String(w)}`)).filter((d): d is Array32 => !!d);
    };
    const parsed = withoutMaskOps(parseJson(modelConfig, 'model_config'));
    const entries = isObject(parsed.config) && Array.isArray(parsed.config.layers) ? (parsed.config.layers as Json[]) : [];
    return {
      config: parsed,
      kerasVersion: String(file.attribute('', 'keras_version') ?? '2'),
      training: file.attribute('', 'training_config'),
      weights: new Map(entries.map((e) => [String((e.config as Json)?.name), layerWeights(String((e.config as Json)?.name))])),
    };
  });
  const { model, notes } = await assemble(config, kerasVersion, (entry) => weights.get(String((entry.config as Json).name)) ?? []);
  return {
    model,
    notes,
    kerasVersion,
    compile: withHead(typeof training === 'string' ? compileInfo(parseJson(training, 'training_config')) : undefined, model),
  };
}

/** The tfjs model's Layers topology, as tfjs saves it. */
function tfjsTopology(model: tfl.LayersModel): Json {
  return model.toJSON(null, false) as unknown as Json;
}

/** The compile_config seq-tag writes: categorical crossentropy and the optimizer it trained with. */
export function kerasCompileConfig(compile: CompileInfo): Json {
  const opt = compile.optimizer;
  const optimizerConfig: Json = { learning_rate: opt?.lr ?? 0.001, clipnorm: opt?.clipnorm ?? null, clipvalue: opt?.clipvalue ?? null };
  if (opt?.epsilon !== undefined) optimizerConfig.epsilon = opt.epsilon;
  return {
    optimizer: {
      module: 'keras.optimizers',
      class_name: KERAS_OPTIMIZERS[(opt?.name ?? 'adam') as OptimizerName] ?? 'Adam',
      config: optimizerConfig,
      registered_name: null,
    },
    loss: compile.fromLogits
      ? { module: 'keras.losses', class_name: 'CategoricalCrossentropy', config: { from_logits: true }, registered_name: null }
      : compile.loss,
    loss_weights: null,
    metrics: null,
    weighted_metrics: null,
    run_eagerly: false,
    steps_per_execution: 1,
    jit_compile: false,
  };
}

/**
 * `model` as a Keras 3 `.keras` file: config.json from its tfjs topology, model.weights.h5 in
 * Keras's layout (layers/<snake_case class>[_n]/…/vars/<i>), metadata.json; zipped without
 * compression, as Keras writes it.
 */
export async function kerasArchive(model: tfl.LayersModel, compile?: CompileInfo): Promise<Uint8Array> {
  const config = kerasConfigFromTfjs(tfjsTopology(model));
  if (compile) config.compile_config = compile.keras ?? kerasCompileConfig(compile);
  const content: Hdf5Content = { groups: ['layers', 'vars'], datasets: [] };
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const keys = weightKeys(layers.map((l) => kerasClassName(l.getClassName())));
  for (const [i, layer] of layers.entries()) {
    const key = keys[i];
    const { vars, empty } = weightGroups(kerasClassName(layer.getClassName()));
    const groups = [...new Set([...vars, ...empty].flatMap((g) => g.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'))))];
    content.groups.push(key, ...groups.map((g) => `${key}/${g}`));
    // The layer's weights in getWeights() order, shared out over its vars groups in order.
    const weights = layer.weights;
    const perGroup = weights.length / vars.length;
    weights.forEach((w, i) => {
      const values = w.read().dataSync() as Float32Array;
      content.datasets.push({ path: `${key}/${vars[Math.floor(i / perGroup)]}/${i % perGroup}`, data: { shape: w.shape as number[], values } });
    });
  }
  const h5 = await writeHdf5(content);
  const metadata = { keras_version: EXPORTED_KERAS_VERSION, date_saved: new Date().toISOString() };
  const encode = (json: Json) => new TextEncoder().encode(JSON.stringify(json));
  return zipSync({ 'metadata.json': encode(metadata), 'config.json': encode(config), 'model.weights.h5': h5 }, { level: 0 });
}

/**
 * `model` as a legacy Keras `.h5` file, as Keras's model.save("x.h5") lays one out: the model's
 * config (model_config, Keras 3's form, which its legacy loader reads) and compile settings
 * (training_config) as root attributes; model_weights/<layer> holding each layer's weights, named
 * in its weight_names attribute, in layer.weights order, the order Keras sets them back in.
 */
export async function kerasH5(model: tfl.LayersModel, compile?: CompileInfo): Promise<Uint8Array> {
  const config = kerasConfigFromTfjs(tfjsTopology(model));
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const content: Hdf5Content = { groups: ['model_weights'], datasets: [], attributes: [] };
  const attribute = (path: string, name: string, value: Hdf5Attribute) => content.attributes!.push({ path, name, value });
  attribute('', 'backend', 'tensorflow');
  attribute('', 'keras_version', EXPORTED_KERAS_VERSION);
  attribute('', 'model_config', JSON.stringify(config));
  if (compile) attribute('', 'training_config', JSON.stringify(legacyTrainingConfig(compile.keras ?? kerasCompileConfig(compile))));
  attribute(
    'model_weights',
    'layer_names',
    layers.map((l) => l.name),
  );
  attribute('model_weights', 'backend', 'tensorflow');
  attribute('model_weights', 'keras_version', EXPORTED_KERAS_VERSION);
  for (const layer of layers) {
    const group = `model_weights/${layer.name}`;
    const names = layer.weights.map((w, i) => `${layer.name}/${i}_${w.name.split('/').at(-1)}`);
    content.groups.push(group);
    attribute(group, 'weight_names', names);
    layer.weights.forEach((w, i) =>
      content.datasets.push({ path: `${group}/${names[i]}`, data: { shape: w.shape as number[], values: w.read().dataSync() as Float32Array } }),
    );
  }
  try {
    return await writeHdf5(content);
  } catch (err) {
    if (err instanceof RangeError) throw new UnsupportedModel(`a legacy .h5 cannot hold it (${err.message}); export to .keras`);
    throw err;
  }
}

/** A Keras 3 compile_config as a legacy .h5's training_config (optimizer_config: class name and config). */
function legacyTrainingConfig(compile: Json): Json {
  const optimizer = isObject(compile.optimizer) ? compile.optimizer : undefined;
  const { optimizer: _dropped, ...rest } = compile;
  return { ...rest, ...(optimizer ? { optimizer_config: { class_name: optimizer.class_name, config: optimizer.config } } : {}) };
}

import { Command } from 'commander';
import { initBackend } from '../model/backend.js';
import { describeOptimizer, type Config } from '../model/config.js';
import { configFromDescription } from '../model/describe.js';
import { batchLoss, modelLoss } from '../training/losses.js';
import type { TagData } from '../task/tag-data.js';
import { UserError } from '../errors.js';
import { DEFAULT_BURST, diagnose, diagnoseModel, type Diagnosis } from '../diagnosis/diagnosis.js';
import { checkSetup, readsDistribution } from '../diagnosis/setup.js';
import { plural, renderDiagnosis, styleFor, thousands } from '../report/render.js';
import { loadModel, quotePath, type LoadedModel } from '../storage/model-store.js';
import { parserOf, wholeNumber } from './flags.js';
import {
  addBackendOption,
  addDataOption,
  addExperimentOptions,
  addJsonOption,
  addModelOption,
  configFromFlags,
  givenOn,
  modelPath,
  taskEncoding,
  userData,
  type BackendFlag,
  type DataFlag,
  type ExperimentFlags,
  type ModelFlag,
} from './options.js';
import { ExitCode, modelJson, modelLine, printJson, stdout } from './output.js';
import { renderHeader } from './train.js';

interface DoctorFlags extends ExperimentFlags, BackendFlag, ModelFlag, DataFlag {
  burst: number;
  json?: boolean;
}

/** Seed of the generated data for a model seq-tag did not train, unless --seed says otherwise. */
const FOREIGN_MODEL_SEED = 1;

export function doctorCommand(): Command {
  const cmd = new Command('doctor').description(
    'check a configuration, or a saved model (seq-tag, TensorFlow.js or Keras), for the causes of NaN and non-learning, with evidence (exit 3 when a check fails)',
  );
  addExperimentOptions(cmd);
  addBackendOption(cmd);
  cmd.option('--burst <batches>', 'training batches in the short burst', parserOf(wholeNumber(1, 10_000)), DEFAULT_BURST);
  addModelOption(
    cmd,
    'examine this saved model (a seq-tag or TensorFlow.js folder, a Keras .keras or .h5 file): its loss and head, its weights, and its own configuration instead of the flags',
    false,
  );
  addDataOption(cmd, 'check the model (with --model)');
  addJsonOption(cmd, 'the checks');
  return cmd.action((flags: DoctorFlags) => runDoctor(flags, cmd));
}

/**
 * A model seq-tag trained is examined as its config rebuilds it (plus its saved weights); any other
 * model as it is: its compile config against its head, its weights, then the checks and a burst on
 * its own weights.
 */
export function examine(
  path: string,
  loaded: LoadedModel,
  flags: Pick<DoctorFlags, 'burst' | 'seed'>,
  data?: TagData,
): { config: Config; diagnosis: Diagnosis } {
  const saved = { dir: path, nonFinite: loaded.nonFinite, tensors: loaded.model.weights.length };
  if (loaded.record && !data) {
    const config = loaded.record.config;
    return { config, diagnosis: diagnose(config, { burstBatches: flags.burst, saved }) };
  }
  const config = configFromDescription(loaded.description, loaded.compile, flags.seed ?? FOREIGN_MODEL_SEED);
  if (!data) taskEncoding(path, loaded.description);
  const setup = checkSetup(loaded.description.head, loaded.compile, loaded.description.tags);
  const perToken = modelLoss(loaded.compile);
  const { mask } = loaded.description;
  const retrain = `retrain it after the fix the first failing check names; then check it again with: seq-tag doctor --model ${quotePath(path)}`;
  // Keras saves whatever the last epoch left, NaN included; the setup check usually says why.
  const why = setup.verdict === 'fail' ? `why: the first check (${setup.title})` : undefined;
  // The burst trains with the file's own loss on the raw outputs (a from_logits loss softmaxes them itself).
  const diagnosis = diagnoseModel(loaded.model, config, {
    burstBatches: flags.burst,
    saved: { ...saved, retrain, why },
    setup,
    data,
    mask,
    readsDistribution: readsDistribution(loaded.compile),
    loss: perToken && batchLoss(perToken, mask),
  });
  return { config, diagnosis };
}

async function runDoctor(flags: DoctorFlags, cmd: Command): Promise<void> {
  const backend = await initBackend(flags.backend);
  const path = modelPath(flags);
  let loaded: LoadedModel | undefined;
  let config: Config;
  let diagnosis: Diagnosis;
  let data: TagData | undefined;
  if (path !== undefined) {
    loaded = await loadModel(path, { allowNonFinite: true });
    try {
      data = flags.data === undefined ? undefined : await userData(flags.data, loaded.description);
      ({ config, diagnosis } = examine(path, loaded, flags, data));
    } finally {
      loaded.model.dispose();
    }
  } else {
    if (flags.data !== undefined) throw new UserError('--data needs --model: the doctor checks a saved model on your data', ExitCode.Usage);
    config = configFromFlags(flags, givenOn(cmd));
    diagnosis = diagnose(config, { burstBatches: flags.burst });
  }
  if (!diagnosis.healthy) process.exitCode = ExitCode.Failed;
  if (flags.json) {
    printJson('doctor', { backend, model: loaded && modelJson(path!, loaded), config, ...diagnosis });
    return;
  }
  const out = stdout();
  const style = styleFor(out.stream);
  if (loaded && !loaded.record) {
    const from = loaded.compile?.optimizer ? "the file's compile config" : "Keras's defaults (the file has no optimizer)";
    out.line(`${modelLine(path!, loaded)} · backend ${backend.name}`);
    const on = data ? `${plural(data.n, 'sequence')} of ${flags.data}` : `${thousands(config.samples)} generated sequences (seed ${config.seed})`;
    out.line(
      `checks on ${on}; burst: ${plural(flags.burst, 'batch', 'batches')} of ${config.batchSize} from its own weights, ${describeOptimizer(config)} (${from})\n`,
    );
  }
  // The burst trains through tf.layers whatever engine the config names: the header says so.
  else out.line(`${renderHeader(backend, { ...config, lstm: 'layers' }, diagnosis.summary, style)}\n`);
  out.line(renderDiagnosis(diagnosis, style));
}

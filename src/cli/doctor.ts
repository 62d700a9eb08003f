import { Command } from 'commander';
import type { Config } from '../config/config.js';
import type { TagData } from '../task/tag-data.js';
import { UserError } from '../errors.js';
import { DEFAULT_BURST, diagnose, type Diagnosis } from '../diagnosis/diagnosis.js';
import { examine } from '../diagnosis/examine.js';
import { plural, renderDiagnosis, thousands } from '../report/render.js';
import { loadModel, type LoadedModel } from '../model/store.js';
import { parserOf, wholeNumber } from './flags.js';
import {
  addBackendOption,
  initCompute,
  addDataOption,
  addExperimentOptions,
  addJsonOption,
  addModelOption,
  configFromFlags,
  givenOn,
  modelPath,
  userData,
  type BackendFlag,
  type DataFlag,
  type ExperimentFlags,
  type ModelFlag,
  textModelNeedsData,
} from './options.js';
import { ExitCode, modelJson, modelLine, printJson, stdout, setExitCode } from './output.js';
import { renderHeader } from './train.js';
import { dataSize } from '../report/text.js';

interface DoctorFlags extends ExperimentFlags, BackendFlag, ModelFlag, DataFlag {
  burst: number;
  json?: boolean;
}

export function doctorCommand(): Command {
  const cmd = new Command('doctor').description(
    'check a configuration, or a saved model (seq-tag, TensorFlow.js or Keras), for the causes of NaN and non-learning, with evidence (exit 3 when a check fails)',
  );
  addModelOption(
    cmd,
    'examine this saved model (a seq-tag or TensorFlow.js folder, a Keras .keras or .h5 file): its loss and head, its weights, and its own configuration instead of the flags',
    false,
  );
  addDataOption(cmd, 'check the model (with --model)');
  cmd.option('--burst <batches>', 'training batches in the short burst', parserOf(wholeNumber(1, 10_000)), DEFAULT_BURST);
  addBackendOption(cmd);
  addJsonOption(cmd, 'the checks');
  const before = cmd.options.length;
  addExperimentOptions(cmd);
  // Listed apart in the help, and refused beside --model: they describe a model to build, not one to read.
  for (const option of cmd.options.slice(before)) if (option.attributeName() !== 'seed') option.helpGroup(BUILD_GROUP);
  return cmd.action((flags: DoctorFlags) => runDoctor(flags, cmd));
}

/** The help's heading of the flags that describe the model to build (the flags of train). */
const BUILD_GROUP = 'Without --model, the model to build and check (as train builds it):';

async function runDoctor(flags: DoctorFlags, cmd: Command): Promise<void> {
  const path = modelPath(flags);
  const given = givenOn(cmd);
  const stray =
    path === undefined
      ? undefined
      : cmd.options.find(
          (o) => o.helpGroupHeading === BUILD_GROUP && given(o.attributeName()) && o.negate === (cmd.getOptionValue(o.attributeName()) === false),
        );
  if (stray) {
    throw new UserError(
      `${stray.long} does not apply with --model: the doctor checks that model as it is, with its own configuration; drop ${stray.long} (without --model, the doctor builds the model the flags describe)`,
      ExitCode.Usage,
    );
  }
  const backend = await initCompute(flags);
  let loaded: LoadedModel | undefined;
  let config: Config;
  let diagnosis: Diagnosis;
  let data: TagData | undefined;
  if (path !== undefined) {
    loaded = await loadModel(path, { allowNonFinite: true });
    try {
      if (flags.data === undefined) textModelNeedsData(path, loaded.record, 'check it on tagged text with --data FILE');
      data = flags.data === undefined ? undefined : await userData(flags.data, loaded.description, loaded.record);
      ({ config, diagnosis } = examine(path, loaded, flags, data));
    } finally {
      loaded.model.dispose();
    }
  } else {
    if (flags.data !== undefined) throw new UserError('--data needs --model: the doctor checks a saved model on your data', ExitCode.Usage);
    config = configFromFlags(flags, givenOn(cmd));
    diagnosis = diagnose(config, { burstBatches: flags.burst });
  }
  if (!diagnosis.healthy) setExitCode(ExitCode.Failed);
  if (flags.json) {
    printJson('doctor', { backend, model: loaded && modelJson(path!, loaded), config, ...diagnosis });
    return;
  }
  const out = stdout();
  const style = out.style;
  // A model on the user's data is examined as it is (examine.ts), whoever trained it: the header says so.
  if (loaded && (!loaded.record || data)) {
    const from = loaded.compile?.optimizer ? "the file's compile config" : loaded.record ? 'as it trained' : "Keras's defaults (the file has no optimizer)";
    out.line(`${modelLine(path!, loaded)} · backend ${backend.name}`);
    const on = data ? `${dataSize(data)} of ${flags.data}` : `${thousands(config.samples)} generated sequences (seed ${config.seed})`;
    const optimizer = diagnosis.burstOptimizer!;
    const dropped = optimizer.dropped.length ? `; not run as Keras would: ${optimizer.dropped.join('; ')}` : '';
    out.line(
      `checks on ${on}; burst: ${plural(flags.burst, 'batch', 'batches')} of ${config.batchSize} from its own weights, ${optimizer.described} (${from})${dropped}\n`,
    );
  }
  // The burst trains through tf.layers whatever engine the config names: the header says so, and from which weights.
  else {
    out.line(renderHeader(backend, { ...config, lstm: 'layers' }, diagnosis.summary, style));
    const from = loaded ? `its saved weights (${path})` : `fresh weights (seed ${config.seed})`;
    out.line(
      `checks on ${thousands(config.samples)} generated sequences; burst: ${plural(flags.burst, 'batch', 'batches')} of ${config.batchSize} from ${from}\n`,
    );
  }
  out.line(renderDiagnosis(diagnosis, style, out.columns));
}

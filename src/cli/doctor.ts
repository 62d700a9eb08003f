import { Command } from 'commander';
import { initBackend } from '../model/backend.js';
import type { Config } from '../model/config.js';
import { DEFAULT_BURST, diagnose, type SavedWeights } from '../diagnosis/diagnosis.js';
import { renderDiagnosis, styleFor } from '../report/render.js';
import { loadModel } from '../storage/model-store.js';
import { parserOf, wholeNumber } from './flags.js';
import {
  addBackendOption,
  addExperimentOptions,
  addJsonOption,
  addModelOption,
  configFromFlags,
  givenOn,
  type BackendFlag,
  type ExperimentFlags,
} from './options.js';
import { ExitCode, printJson, stdout } from './output.js';
import { renderHeader } from './train.js';

interface DoctorFlags extends ExperimentFlags, BackendFlag {
  burst: number;
  modelDir?: string;
  json?: boolean;
}

export function doctorCommand(): Command {
  const cmd = new Command('doctor').description(
    'check a configuration (or a saved model) for the causes of NaN and non-learning, with evidence (exit 3 when a check fails)',
  );
  addExperimentOptions(cmd);
  addBackendOption(cmd);
  cmd.option('--burst <batches>', 'training batches in the short burst', parserOf(wholeNumber(1, 10_000)), DEFAULT_BURST);
  addModelOption(cmd, 'examine this saved model: its weights, and its own configuration instead of the flags', false);
  addJsonOption(cmd, 'the checks');
  return cmd.action((flags: DoctorFlags) => runDoctor(flags, cmd));
}

async function runDoctor(flags: DoctorFlags, cmd: Command): Promise<void> {
  const backend = await initBackend(flags.backend);
  let config: Config;
  let saved: SavedWeights | undefined;
  if (flags.modelDir !== undefined) {
    const loaded = await loadModel(flags.modelDir, { allowNonFinite: true });
    config = loaded.record.config;
    saved = { dir: flags.modelDir, nonFinite: loaded.nonFinite, tensors: loaded.model.weights.length };
    loaded.model.dispose();
  } else {
    config = configFromFlags(flags, givenOn(cmd));
  }
  const diagnosis = diagnose(config, { burstBatches: flags.burst, saved });
  if (!diagnosis.healthy) process.exitCode = ExitCode.Failed;
  if (flags.json) {
    printJson('doctor', { backend, config, ...diagnosis });
    return;
  }
  const out = stdout();
  const style = styleFor(out.stream);
  // The burst trains through tf.layers whatever engine the config names: the header says so.
  out.line(`${renderHeader(backend, { ...config, lstm: 'layers' }, diagnosis.summary, style)}\n`);
  out.line(renderDiagnosis(diagnosis, style));
}

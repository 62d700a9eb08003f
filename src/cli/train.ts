import { Command, Option } from 'commander';
import { initBackend } from '../backend.js';
import { createExperiment, releaseData, runExperiment, tagFreshSequences } from '../experiment.js';
import { renderEpoch, renderSummary, renderTagged, styleFor, thousands, toJson } from '../render.js';
import { checkSaveTarget, saveModel } from '../storage.js';
import { VERSION } from '../version.js';
import { addBackendOption, addExperimentOptions, configFromFlags, type BackendFlag, type ExperimentFlags } from './options.js';

export const DEFAULT_MODEL_DIR = './seq-tag-model';
const TEST_VIEW_SIZE = 5;

interface TrainFlags extends ExperimentFlags, BackendFlag {
  modelDir: string;
  json?: boolean;
}

export function trainCommand(): Command {
  const cmd = new Command('train').description('generate the data, train the tagger, show it on fresh sequences, save it');
  addExperimentOptions(cmd);
  addBackendOption(cmd);
  cmd
    .option('--model-dir <path>', 'where to save the model', DEFAULT_MODEL_DIR)
    .addOption(new Option('--json', 'print one JSON document (config, per-epoch losses, predictions) instead of text'))
    .action(runTrain);
  return cmd;
}

async function runTrain(flags: TrainFlags): Promise<void> {
  const config = configFromFlags(flags);
  await checkSaveTarget(flags.modelDir);
  const backend = await initBackend(flags.backend);
  const out = process.stdout;
  const style = styleFor(out);
  const say = (text: string) => {
    if (!flags.json) out.write(`${text}\n`);
  };

  const experiment = createExperiment(config);
  say(
    `seq-tag ${VERSION} · backend ${style.bold(backend.name)} (${backend.reason}) · seed ${style.bold(String(config.seed))} · ` +
      `${thousands(config.samples)} sequences × 10 · LSTM ${config.units} · ${thousands(experiment.summary.trainableParams)} params`,
  );
  say('');
  say(renderSummary(experiment.summary, style));
  say('');
  const result = await runExperiment(experiment, {
    onEpochEnd: (record) => say(renderEpoch(record, config.epochs, style)),
  });
  releaseData(experiment);

  const tagged = tagFreshSequences(experiment.model, config, TEST_VIEW_SIZE, config.seed);
  const losses = result.epochs.map((e) => e.loss);
  await saveModel(experiment.model, flags.modelDir, {
    config,
    backend: backend.name,
    losses,
    trainedAt: new Date().toISOString(),
    trainSeconds: result.seconds,
    seqTagVersion: VERSION,
  });

  if (flags.json) {
    const doc = {
      command: 'train',
      seqTagVersion: VERSION,
      backend,
      config,
      summary: experiment.summary,
      epochs: result.epochs,
      trainSeconds: result.seconds,
      test: tagged,
      modelDir: flags.modelDir,
    };
    out.write(`${toJson(doc)}\n`);
    return;
  }
  say('');
  say(`trained ${config.epochs} epochs in ${result.seconds.toFixed(2)} s; ${TEST_VIEW_SIZE} fresh sequences:`);
  say('');
  say(renderTagged(tagged, { style }));
  say('');
  say(`saved to ${flags.modelDir}  (next: seq-tag predict --model-dir ${flags.modelDir})`);
}

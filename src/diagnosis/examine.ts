import { KERAS_OPTIMIZERS, type Config } from '../config/config.js';
import { configFromDescription } from '../model/describe.js';
import { batchLoss, modelLoss } from '../training/losses.js';
import { kerasOptimizer } from '../training/keras-optimizer.js';
import type { TagData } from '../task/tag-data.js';
import { FOREIGN_MODEL_SEED, taskEncoding } from '../task/model-data.js';
import { quotePath, type LoadedModel } from '../model/store.js';
import { diagnoseModel, type Diagnosis } from './diagnosis.js';
import { checkSetup, readsDistribution } from './setup.js';

/**
 * A model seq-tag trained is examined as its config rebuilds it (plus its saved weights); any other
 * model as it is: its compile config against its head, its weights, then the checks and a burst on
 * its own weights.
 */
export function examine(
  path: string,
  loaded: LoadedModel,
  flags: { burst: number; seed?: number; data?: string },
  data?: TagData,
): { config: Config; diagnosis: Diagnosis } {
  const saved = { dir: path, nonFinite: loaded.nonFinite, tensors: loaded.model.weights.length };
  if (loaded.record && !data) {
    // A seq-tag folder: the task's data as its config generates it, the burst from its saved weights.
    const config = flags.seed === undefined ? loaded.record.config : { ...loaded.record.config, seed: flags.seed };
    return { config, diagnosis: diagnoseModel(loaded.model, config, { burstBatches: flags.burst, saved }) };
  }
  const config = configFromDescription(loaded.description, loaded.compile, flags.seed ?? FOREIGN_MODEL_SEED);
  const input = data ? undefined : taskEncoding(path, loaded.description);
  // A file from Keras or tfjs (not a seq-tag folder) can be retrained here with the fix applied; from fresh weights when its own are not finite.
  const fresh = loaded.nonFinite.length ? ' --reinit' : '';
  const retrain = loaded.record
    ? undefined
    : `seq-tag train --from ${quotePath(path)} --fix${fresh}${flags.data === undefined ? '' : ` --data ${quotePath(flags.data)}`}`;
  const setup = checkSetup(loaded.description.head, loaded.compile, loaded.description.tags, retrain);
  const perToken = modelLoss(loaded.compile);
  const { mask } = loaded.description;
  const again = `retrain it after the fix the first failing check names; then check it again with: seq-tag doctor --model ${quotePath(path)}`;
  // Keras saves whatever the last epoch left, NaN included; the setup check usually says why.
  const why = setup.verdict === 'fail' ? `why: the first check (${setup.title})` : undefined;
  // The burst trains with the file's own loss on the raw outputs (a from_logits loss softmaxes them itself).
  // The burst runs the file's own optimizer (schedule, momentum, weight decay …), naming what it cannot.
  // A model seq-tag trained (checked on the user's data) bursts with the optimizer it trained with.
  const optimizer = kerasOptimizer(loaded.compile?.keras?.optimizer ?? (loaded.record && kerasOptimizerConfig(loaded.record.config)));
  const diagnosis = diagnoseModel(loaded.model, config, {
    burstBatches: flags.burst,
    saved: { ...saved, retrain: again, why },
    setup,
    data,
    input,
    mask,
    readsDistribution: readsDistribution(loaded.compile),
    keras: { loss: loaded.compile?.loss ?? 'categorical_crossentropy', retrain },
    loss: perToken && batchLoss(perToken, mask),
    scoring: { compile: loaded.compile, mask },
    optimizer,
  });
  const { name, described, dropped } = optimizer;
  return { config, diagnosis: { ...diagnosis, burstOptimizer: { name, described, dropped } } };
}

/** A seq-tag run's optimizer written as a Keras compile config names it (what kerasOptimizer reads). */
function kerasOptimizerConfig(config: Config): Record<string, unknown> {
  const epsilon = config.optimizer === 'adam' ? { epsilon: config.adamEpsilon } : {};
  return {
    class_name: KERAS_OPTIMIZERS[config.optimizer],
    config: { learning_rate: config.lr, ...epsilon, clipnorm: config.clipnorm, clipvalue: config.clipvalue },
  };
}

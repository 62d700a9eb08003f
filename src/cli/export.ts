import { Command } from 'commander';
import { thousands } from '../report/render.js';
import { EXPORTED, exportFormat, exportModel } from '../model/export.js';
import { FORMAT_NAMES, loadModel, quotePath } from '../model/store.js';
import { addBackendOption, addJsonOption, initCompute, addModelOption, modelPath, type BackendFlag, type ModelFlag } from './options.js';
import { modelJson, printJson, stdout } from './output.js';

interface ExportFlags extends BackendFlag, ModelFlag {
  to: string;
  force?: boolean;
  json?: boolean;
}

export function exportCommand(): Command {
  const cmd = new Command('export').description('write a model as a Keras 3 .keras file (keras.models.load_model reads it) or a TensorFlow.js Layers folder');
  addModelOption(cmd, 'the model to export: a seq-tag or TensorFlow.js folder, or a Keras .keras or .h5 file');
  cmd
    .requiredOption('--to <path>', 'FILE.keras for Keras 3, FILE.h5 for the legacy Keras format, or a new folder for TensorFlow.js (model.json + weights.bin)')
    .option('--force', 'replace an existing .keras or .h5 file (atomically: the old one stays whole until the new one is complete)');
  addJsonOption(cmd, 'what was written');
  addBackendOption(cmd);
  cmd.action(runExport);
  return cmd;
}

async function runExport(flags: ExportFlags): Promise<void> {
  exportFormat(flags.to); // a bad --to is a bad command line: refused before the model is read
  const backend = await initCompute(flags);
  const path = modelPath(flags)!;
  const loaded = await loadModel(path);
  // Said before anything is written: what of a Keras 2 file's compile config Keras 3 cannot take.
  const dropped = loaded.compile?.dropped ?? [];
  if (dropped.length && !flags.json)
    stdout().line(`note: Keras 3 has no place for ${dropped.join(', ')}: the export leaves ${dropped.length > 1 ? 'them' : 'it'} out`);
  const { format, bytes } = await exportModel(loaded, flags.to, flags.force);
  if (flags.json) {
    printJson('export', { backend, model: modelJson(path, loaded), to: flags.to, format, bytes, dropped });
    return;
  }
  const what = EXPORTED[format];
  const next =
    format !== 'tfjs'
      ? `in Python: keras.models.load_model(${JSON.stringify(flags.to)})`
      : `seq-tag predict --model ${quotePath(flags.to)}, or tf.loadLayersModel in TensorFlow.js`;
  stdout().line(`exported ${path} (${FORMAT_NAMES[loaded.format]}) to ${flags.to}: ${what}, ${thousands(bytes)} bytes  (next: ${next})`);
}

import { Command, Option } from 'commander';
import { initBackend } from '../backend.js';
import type { Config } from '../config.js';
import { DEFAULT_BURST, diagnose } from '../diagnosis.js';
import { renderDiagnosis, styleFor, toJson } from '../render.js';
import { VERSION } from '../version.js';
import { addBackendOption, addExperimentOptions, configFromFlags, givenOn, wholeNumber, type BackendFlag, type ExperimentFlags } from './options.js';
import { EXIT_DIVERGED, renderHeader } from './train.js';

interface DoctorFlags extends ExperimentFlags, BackendFlag {
  burst: number;
  json?: boolean;
}

export function doctorCommand(): Command {
  const cmd = new Command('doctor').description('check a configuration for the causes of NaN and non-learning, with evidence (exit 3 when a check fails)');
  addExperimentOptions(cmd);
  addBackendOption(cmd);
  cmd
    .option('--burst <batches>', 'training batches in the short burst', wholeNumber(1, 10_000), DEFAULT_BURST)
    .addOption(new Option('--json', 'print the checks as one JSON document'))
    .action((flags: DoctorFlags) => runDoctor(flags, configFromFlags(flags, givenOn(cmd))));
  return cmd;
}

async function runDoctor(flags: DoctorFlags, config: Config): Promise<void> {
  const backend = await initBackend(flags.backend);
  const diagnosis = diagnose(config, { burstBatches: flags.burst });
  if (!diagnosis.healthy) process.exitCode = EXIT_DIVERGED;
  const out = process.stdout;
  if (flags.json) {
    out.write(`${toJson({ command: 'doctor', seqTagVersion: VERSION, backend, config, ...diagnosis })}\n`);
    return;
  }
  const style = styleFor(out);
  out.write(`${renderHeader(backend, config, diagnosis.summary, style)}\n\n`);
  out.write(`${renderDiagnosis(diagnosis, style)}\n`);
}

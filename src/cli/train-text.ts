// The end of `train` on the user's tagged text: held-out scores on the test file (else the
// validation data), three of its sentences tagged, and what a run that diverged leaves behind.
import type tfl from '@tensorflow/tfjs-layers';
import type { BackendInfo } from '../model/backend.js';
import { validationCount, type Config } from '../config/config.js';
import type { ModelSummary } from '../model/model.js';
import { renderTaggedSentences, renderTextEvaluation } from '../report/text.js';
import { divergenceText, type Style } from '../report/render.js';
import { sentenceCount, sentencesOf, type Corpus } from '../task/corpus.js';
import { tagEntropy } from '../task/metrics.js';
import type { Rows } from '../task/tag-data.js';
import { tagText } from '../task/tagging.js';
import type { TextRun } from '../task/text-data.js';
import { evaluateText, fusedPredictor, textHeldOut } from '../training/experiment.js';
import type { TrainingResult } from '../training/train.js';
import { plural, thousands } from '../shared/format.js';
import { ExitCode, printJson, setExitCode, stdout } from './output.js';

/** Sentences shown tagged after training. */
const SAMPLE_SENTENCES = 3;

/** How often each tag occurs in `data`'s real positions (padding has none). */
export function tagCounts(data: Pick<Rows, 'tags' | 'labels'>): Float64Array {
  const counts = new Float64Array(data.tags);
  for (const tag of data.labels) if (tag >= 0) counts[tag]++;
  return counts;
}

/** The held-out data of a text run (textHeldOut), with what to call it and where its sentences are. */
function heldOut(text: TextRun, config: Config): { data: Rows; corpus: Corpus; first: number; label: string; sentences: string } {
  const { data, source } = textHeldOut(text, config.validationSplit);
  const { test, validation, train } = text.corpora;
  const whole = (c: Corpus) => plural(sentenceCount(c), 'sentence');
  if (source === 'test') return { data, corpus: test!, first: 0, label: `--test-data ${test!.path}`, sentences: whole(test!) };
  if (source === 'validation') return { data, corpus: validation!, first: 0, label: `--validation-data ${validation!.path}`, sentences: whole(validation!) };
  if (source === 'split') {
    // The split holds out rows (pieces of sentences over --max-length count as rows), as Keras's would.
    const held = validationCount(sentenceCount(train), config.validationSplit);
    return { data, corpus: train, first: sentenceCount(train) - held, label: `the validation split of ${train.path}`, sentences: plural(data.n, 'row') };
  }
  return {
    data,
    corpus: train,
    first: 0,
    label: `the training data ${train.path}: no held-out data, give --test-data or --validation-data`,
    sentences: whole(train),
  };
}

/** What `train` shows and records after a run on text (see train.ts's Outcome). */
export function textOutcome(model: tfl.LayersModel, text: TextRun, config: Config, style: Style) {
  const held = heldOut(text, config);
  const evaluation = evaluateText(model, text, config.validationSplit, held.data);
  const shown = sentencesOf(held.corpus, held.first, SAMPLE_SENTENCES);
  const tagged = tagText(model, shown.words, text.vocabulary, fusedPredictor(model, 'ids'));
  return {
    evaluation,
    floor: tagEntropy(tagCounts(text.train.data)),
    sampleTitle: `${plural(tagged.length, 'sentence')} of ${held.corpus.path} (a wrong tag shows the right one)`,
    sample: renderTaggedSentences(tagged, { style, truth: shown.tags }),
    report: `held-out evaluation (${held.label}; ${held.sentences}, ${thousands(evaluation.tokens ?? 0)} words):\n${renderTextEvaluation(evaluation, style)}`,
    json: {
      data: config.data,
      vocabulary: { ids: text.vocabulary.words.length, tags: text.vocabulary.tags },
      heldOut: held.label,
      evaluation,
      sentences: tagged.map((t, i) => ({ ...t, truth: shown.tags[i] })),
    },
  };
}

/** A run on text that diverged: never saved; the next steps are the usual ones for a tagger's NaN. */
export function textDiverged(
  result: TrainingResult,
  json: boolean,
  run: { backend: BackendInfo; config: Config; summary: ModelSummary; unchanged: string },
): void {
  setExitCode(ExitCode.Failed);
  if (json) {
    printJson('train', {
      backend: run.backend,
      config: run.config,
      summary: run.summary,
      epochs: result.epochs,
      divergence: result.divergence,
      stopped: result.stopped,
      saved: false,
    });
    return;
  }
  const out = stdout();
  out.line('');
  out.line(out.style.red(divergenceText(result.divergence!, result.stopped)));
  out.line(
    `the model was not saved; ${run.unchanged}. Try a lower --lr (now ${run.config.lr}) or --clipnorm 1; seq-tag doctor --model checks a saved model on its data.`,
  );
}

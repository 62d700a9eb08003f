// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tfl = require('@tensorflow/tfjs-layers');
import { Dataset, Encoding, featureTensor, SEQUENCE_LENGTH, sequenceAt } from './data.js';
import { predictRepeatProbability } from '../model/model.js';

/** One sequence with its true labels and the model's P(repeated) per position. */
export interface TaggedSequence {
  digits: number[];
  truth: number[];
  probs: number[];
  /** 1 where probs > 0.5. */
  predicted: number[];
}

export function tagSequences(model: tfl.LayersModel, encoding: Encoding, data: Dataset): TaggedSequence[] {
  const features = featureTensor(data.digits, encoding);
  const probs = predictRepeatProbability(model, features);
  features.dispose();
  return Array.from({ length: data.n }, (_, k) => {
    const p = Array.from(probs.subarray(k * SEQUENCE_LENGTH, (k + 1) * SEQUENCE_LENGTH));
    return {
      digits: sequenceAt(data.digits, k),
      truth: sequenceAt(data.labels, k),
      probs: p,
      predicted: p.map((v) => (v > 0.5 ? 1 : 0)),
    };
  });
}

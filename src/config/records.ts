// What a run's epochs and divergence look like wherever they are stored (a sweep's records, a
// checkpoint): at the bottom, so storage and sweep read the same schema without importing each other.
import { z } from 'zod';

// JSON has no NaN or Infinity: a loss may be either, so numbers here are any JS number.
export const anyNumber = z.custom<number>((v) => typeof v === 'number', 'expected a number');
export const rate = z.number().min(0).max(1);
const validationSchema = z.object({ loss: anyNumber, tokenAccuracy: rate, exactMatch: rate }).strict();
export const epochSchema = z
  .object({
    epoch: z.number().int().min(1),
    loss: anyNumber,
    seconds: z.number().min(0),
    validation: validationSchema.optional(),
    lr: z.number().min(0).optional(),
  })
  .strict();
export const divergenceSchema = z
  .object({ epoch: z.number().int().min(1), batch: z.number().int().min(1), loss: anyNumber, symptom: z.enum(['nan', 'infinite', 'clip-bound']) })
  .strict();

/** Whether epoch records are numbered 1, 2, … in order (a record's or a checkpoint's). */
export function numberedFromOne(epochs: { epoch: number }[]): boolean {
  return epochs.every((e, k) => e.epoch === k + 1);
}

// The shapes of those records in TypeScript (training produces them; storage and sweep keep them).
/** The validation split scored after an epoch: Keras's val_loss and val_accuracy, and exact-match. */
export interface ValidationScore {
  loss: number;
  tokenAccuracy: number;
  exactMatch: number;
}

export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** Mean of the batch losses weighted by batch size, as Keras reports it. */
  loss: number;
  seconds: number;
  /** With --validation-split: the held-out share scored with the epoch's weights. */
  validation?: ValidationScore;
  /** With --lr-schedule plateau: the learning rate this epoch trained with. */
  lr?: number;
}

/**
 * Everything a stopped run needs to continue as if it had never stopped, after `epochs.length`
 * completed epochs. The shuffle stream is not stored: it is replayed to the same position (one
 * permutation per completed epoch).
 */
export interface TrainingState {
  epochs: EpochRecord[];
  /** Training time so far. */
  seconds: number;
  divergence?: Divergence;
  /** The engine's arrays (./ see Engine.snapshot) and, with early stopping, `best/<i>`: the best epoch's model weights. */
  arrays: { name: string; values: Float32Array | Float64Array }[];
  earlyStopping?: { best: number; bestEpoch: number; wait: number; stoppedAfter?: number };
  plateau?: { best: number; wait: number; lr: number };
}

export interface Divergence {
  epoch: number;
  batch: number;
  loss: number;
  symptom: DivergenceSymptom;
}

export interface TrainingResult {
  epochs: EpochRecord[];
  seconds: number;
  /** The first diverged batch, if any; with the NaN guard on, training stopped there. */
  divergence?: Divergence;
  /** True when the NaN guard stopped training early. */
  stopped: boolean;
  /** Set when `signal` stopped training during epoch `atEpoch`; the model holds epoch atEpoch − 1's weights. */
  interrupted?: { atEpoch: number };
  /** With early stopping: the epoch whose weights the model holds, and the epoch training stopped after (if before the last). */
  earlyStopping?: { bestEpoch: number; stoppedAfter?: number };
}

export type DivergenceSymptom = 'nan' | 'infinite' | 'clip-bound';

/**
 * BatchNormalization (training mode) and LayerNormalization for the fused engine, forward and
 * backward, as tfjs computes them; the epsilons and momentum come from ../constants.ts.
 */

/**
 * Normalises x [rows, width] into y, per column over the rows when `columnStats` is given (batch
 * normalisation in training mode: population variance, as tfjs's moments; the column means and
 * variances are left there for the moving averages) or else per row over the columns (layer
 * normalisation); then y = gamma · x̂ + beta. Keeps x̂ and 1/σ for the backward pass.
 */
export function normalizeForward(
  x: Float64Array,
  y: Float64Array,
  xhat: Float64Array,
  invStd: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  rows: number,
  width: number,
  epsilon: number,
  columnStats?: { mean: Float64Array; variance: Float64Array },
): void {
  if (columnStats) {
    const { mean, variance } = columnStats;
    mean.fill(0);
    variance.fill(0);
    for (let r = 0; r < rows; r++) for (let c = 0; c < width; c++) mean[c] += x[r * width + c];
    for (let c = 0; c < width; c++) mean[c] /= rows;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < width; c++) {
        const d = x[r * width + c] - mean[c];
        variance[c] += d * d;
      }
    }
    for (let c = 0; c < width; c++) {
      variance[c] /= rows;
      invStd[c] = 1 / Math.sqrt(variance[c] + epsilon);
    }
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < width; c++) {
        const k = r * width + c;
        xhat[k] = (x[k] - mean[c]) * invStd[c];
        y[k] = gamma[c] * xhat[k] + beta[c];
      }
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const o = r * width;
    let m = 0;
    for (let c = 0; c < width; c++) m += x[o + c];
    m /= width;
    let v = 0;
    for (let c = 0; c < width; c++) v += (x[o + c] - m) * (x[o + c] - m);
    const inv = 1 / Math.sqrt(v / width + epsilon);
    invStd[r] = inv;
    for (let c = 0; c < width; c++) {
      xhat[o + c] = (x[o + c] - m) * inv;
      y[o + c] = gamma[c] * xhat[o + c] + beta[c];
    }
  }
}

/**
 * Backward of `normalizeForward`: from dy [rows, width] accumulates dGamma, dBeta and writes dx.
 * With x̂ normalised over a group of n values: dx = (1/σ)·(g − mean(g) − x̂·mean(g·x̂)), g = gamma·dy.
 */
export function normalizeBackward(
  dy: Float64Array,
  dx: Float64Array,
  xhat: Float64Array,
  invStd: Float64Array,
  gamma: Float64Array,
  dGamma: Float64Array,
  dBeta: Float64Array,
  rows: number,
  width: number,
  perColumn: boolean,
): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < width; c++) {
      const k = r * width + c;
      dGamma[c] += dy[k] * xhat[k];
      dBeta[c] += dy[k];
    }
  }
  if (perColumn) {
    for (let c = 0; c < width; c++) {
      let sg = 0;
      let sgx = 0;
      for (let r = 0; r < rows; r++) {
        const k = r * width + c;
        const g = gamma[c] * dy[k];
        sg += g;
        sgx += g * xhat[k];
      }
      const mg = sg / rows;
      const mgx = sgx / rows;
      for (let r = 0; r < rows; r++) {
        const k = r * width + c;
        dx[k] = invStd[c] * (gamma[c] * dy[k] - mg - xhat[k] * mgx);
      }
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const o = r * width;
    let sg = 0;
    let sgx = 0;
    for (let c = 0; c < width; c++) {
      const g = gamma[c] * dy[o + c];
      sg += g;
      sgx += g * xhat[o + c];
    }
    const mg = sg / width;
    const mgx = sgx / width;
    for (let c = 0; c < width; c++) dx[o + c] = invStd[r] * (gamma[c] * dy[o + c] - mg - xhat[o + c] * mgx);
  }
}

/** BatchNormalization's moving averages after a training step, as tfjs: m ← m − (m − batch value)·(1 − momentum). */
export function updateMovingStatistics(
  movingMean: Float64Array,
  movingVariance: Float64Array,
  batch: { mean: Float64Array; variance: Float64Array },
  momentum: number,
): void {
  for (let c = 0; c < movingMean.length; c++) {
    movingMean[c] -= (movingMean[c] - batch.mean[c]) * (1 - momentum);
    movingVariance[c] -= (movingVariance[c] - batch.variance[c]) * (1 - momentum);
  }
}

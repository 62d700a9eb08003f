import { LstmDirection, type CellShape } from './lstm.js';
import type { DirectionWeights } from './parameters.js';

/**
 * The LSTM layer of the fused engine, one or two directions, as the network drives it. Two
 * implementations: float64 JavaScript (./lstm.ts) and float32 WebAssembly SIMD (./wasm/).
 * Shapes: digits [B, T]; features and their gradient [B, T, H], each direction at columns k·u.
 */
export interface Recurrent {
  forward(weights: DirectionWeights[], digits: Int32Array, batch: number, features: Float64Array, H: number): void;
  /** Adds each direction's weight gradients into `grads`. */
  backward(weights: DirectionWeights[], grads: DirectionWeights[], digits: Int32Array, batch: number, dFeatures: Float64Array, H: number): void;
  /** Adds d loss / d input features [B, T, width] of the last backward pass into `dx`. */
  inputGradient(weights: DirectionWeights[], batch: number, dx: Float64Array, width: number): void;
  dispose(): void;
}

/** The float64 JavaScript directions. */
export class JsDirections implements Recurrent {
  private readonly directions: LstmDirection[];

  constructor(shape: CellShape, count: number) {
    this.directions = Array.from({ length: count }, (_, d) => new LstmDirection(shape, d === 1, d * shape.units));
  }

  forward(weights: DirectionWeights[], digits: Int32Array, batch: number, features: Float64Array, H: number): void {
    this.directions.forEach((d, k) => d.forward(weights[k], digits, batch, features, H));
  }

  backward(weights: DirectionWeights[], grads: DirectionWeights[], digits: Int32Array, batch: number, dFeatures: Float64Array, H: number): void {
    this.directions.forEach((d, k) => d.backward(weights[k], grads[k], digits, batch, dFeatures, H));
  }

  inputGradient(weights: DirectionWeights[], batch: number, dx: Float64Array, width: number): void {
    this.directions.forEach((d, k) => d.addInputGradient(weights[k], batch, dx, width));
  }

  dispose(): void {}
}

// The fused engine's float32 kernels compiled for this machine's own vector unit (AVX-512, AVX2,
// NEON: whatever -march=native finds), an optional build beside the WebAssembly module.
//
// A port of tools/wasm/assembly/lstm.ts: the same functions, the same descriptor, the same layout
// in the same (shared) WebAssembly memory, so the JavaScript side is unchanged and either kernel can
// run any call. The arithmetic is the same but for the compiler's fused multiply-adds (one rounding
// instead of two), so results agree with the WebAssembly kernels to float32 rounding, not bit for
// bit; a run's kernel is part of what makes it reproducible (`kernels` in its JSON).
//
// Everything read from the memory is checked against its length before a loop touches it: a layout
// bug must throw in JavaScript, not write past the buffer.

#include <node.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

// The descriptor: i32 fields at these indexes (the same table is in directions.ts and lstm.ts).
enum Field {
  UNITS, BATCH, STEPS, ONEHOT, HARD, REVERSE, DIGITS, KERNEL, RECURRENT, RECURRENT_T, BIAS, GATES,
  CELL, CELL_TANH, HIDDEN, DZ, DH_NEXT, DC_NEXT, DH_OUT, G_KERNEL, G_RECURRENT, G_BIAS, FIELDS
};

// The widest vector this machine has, and how many rows of A a block takes: the block's
// accumulators (rows × 2 vectors) plus two B vectors and a broadcast fill the vector registers
// (32 with AVX-512 or NEON, 16 with AVX2 or SSE) without spilling.
#if defined(__AVX512F__)
constexpr int LANES = 16, ROWS = 8;
#elif defined(__AVX2__) || defined(__AVX__)
constexpr int LANES = 8, ROWS = 4;
#elif defined(__aarch64__)
constexpr int LANES = 4, ROWS = 8;
#else
constexpr int LANES = 4, ROWS = 4;
#endif
typedef float vf __attribute__((vector_size(4 * LANES)));

/** v, held in a register: keeps the compiler from reloading a B vector into every multiply-add. */
template <typename V> inline V inRegister(V v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm("" : "+v"(v));
#elif defined(__GNUC__) && defined(__aarch64__)
  asm("" : "+w"(v));
#endif
  return v;
}

template <typename V> inline V load(const float* p) { V v; std::memcpy(&v, p, sizeof v); return v; }
template <typename V> inline void store(float* p, V v) { std::memcpy(p, &v, sizeof v); }
template <typename V> inline void put(float* p, V s, bool acc) { store<V>(p, acc ? load<V>(p) + s : s); }

// ---------------------------------------------------------------------------------------------
// Activations: the WebAssembly module's formulas on a vector of LANES floats. A unit's value does
// not depend on its position: the tail of a row (fewer than LANES units) runs through the same code.

inline vf splat(float s) { return vf{} + s; }

/** tanh as Eigen computes it for float32: a degree-13/6 rational on x clamped to ±7.9053. */
inline vf tanhv(vf x) {
  const vf clamp = splat(7.90531110763549805f);
  // Comparisons with NaN are false: a NaN stays NaN, as WebAssembly's min and max leave it.
  vf c = x < -clamp ? -clamp : x;
  c = c > clamp ? clamp : c;
  const vf x2 = c * c;
  vf p = splat(-2.76076847742355e-16f);
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-8f;
  p = p * x2 + 1.48572235717979e-5f;
  p = p * x2 + 6.37261928875436e-4f;
  p = p * x2 + 4.89352455891786e-3f;
  p = p * c;
  vf q = splat(1.19825839466702e-6f);
  q = q * x2 + 1.18534705686654e-4f;
  q = q * x2 + 2.26843463243900e-3f;
  q = q * x2 + 4.89352518554385e-3f;
  const vf ax = x < 0 ? -x : x;
  const vf r = ax < 0.0004f ? x : p / q;
  // Past the clamp tanh is ±1 in float32; the fused multiply-adds would leave the ratio 1 ulp short.
  return ax >= clamp ? (x < 0 ? splat(-1) : splat(1)) : r;
}
inline vf sigmoidv(vf x) { return 0.5f + 0.5f * tanhv(x * 0.5f); }
inline vf hardv(vf x) {
  vf y = x * 0.2f + 0.5f;
  y = y < 0 ? splat(0) : y;
  return y > 1 ? splat(1) : y;
}
template <bool HARD> inline vf gatev(vf x) { return HARD ? hardv(x) : sigmoidv(x); }
template <bool HARD> inline vf gateSlopev(vf y) {
  if (!HARD) return y * (1.0f - y);
  return y > 0 && y < 1 ? splat(0.2f) : splat(0);
}
/** One float through the vector code (tanhOf and sigmoidOf, which the tests hold to Math.tanh). */
inline float tanhLane(float x) { return tanhv(splat(x))[0]; }
inline float sigmoidLane(float x) { return sigmoidv(splat(x))[0]; }

/** n ≤ LANES floats at p (the rest of the vector zero), and back. */
template <bool FULL> inline vf get(const float* p, int n) {
  if (FULL) return load<vf>(p);
  vf v = {};
  std::memcpy(&v, p, sizeof(float) * n);
  return v;
}
template <bool FULL> inline void set(float* p, vf v, int n) {
  if (FULL) store<vf>(p, v);
  else std::memcpy(p, &v, sizeof(float) * n);
}

// ---------------------------------------------------------------------------------------------
// C[m×n] (+)= A·B. A(i, q) = a[i·ars + q·acs]; B [k×n] and C [m×n] row-major, strides ldb, ldc.
// Blocks of ROWS rows × 2 vectors of columns: each A value broadcast once per two B vectors, each B
// vector used by every row of the block; then one vector of columns, then single columns, and the
// rows left over in blocks of 1.

template <int R>
inline void block(float* c, int ldc, const float* a, int ars, int acs, const float* b, int ldb, int i, int j, int k, bool acc) {
  vf s0[R] = {}, s1[R] = {};
  const float* bp = b + j;
  for (int q = 0; q < k; q++, bp += ldb) {
    const vf b0 = inRegister(load<vf>(bp)), b1 = inRegister(load<vf>(bp + LANES));
    for (int r = 0; r < R; r++) {
      const float x = a[(i + r) * ars + q * acs];
      s0[r] += x * b0;
      s1[r] += x * b1;
    }
  }
  for (int r = 0; r < R; r++) {
    put<vf>(c + (i + r) * ldc + j, s0[r], acc);
    put<vf>(c + (i + r) * ldc + j + LANES, s1[r], acc);
  }
}

template <int R>
inline void narrowBlock(float* c, int ldc, const float* a, int ars, int acs, const float* b, int ldb, int i, int j, int k, bool acc) {
  vf s[R] = {};
  const float* bp = b + j;
  for (int q = 0; q < k; q++, bp += ldb) {
    const vf b0 = inRegister(load<vf>(bp));
    for (int r = 0; r < R; r++) s[r] += a[(i + r) * ars + q * acs] * b0;
  }
  for (int r = 0; r < R; r++) put<vf>(c + (i + r) * ldc + j, s[r], acc);
}

template <int R>
inline void rows(float* c, int ldc, const float* a, int ars, int acs, const float* b, int ldb, int i, int n, int k, bool acc) {
  int j = 0;
  for (; j + 2 * LANES <= n; j += 2 * LANES) block<R>(c, ldc, a, ars, acs, b, ldb, i, j, k, acc);
  for (; j + LANES <= n; j += LANES) narrowBlock<R>(c, ldc, a, ars, acs, b, ldb, i, j, k, acc);
  for (; j < n; j++) {
    for (int r = 0; r < R; r++) {
      float s = 0;
      for (int q = 0; q < k; q++) s += a[(i + r) * ars + q * acs] * b[q * ldb + j];
      float& out = c[(i + r) * ldc + j];
      out = acc ? out + s : s;
    }
  }
}

void gemm(float* c, int ldc, const float* a, int ars, int acs, const float* b, int ldb, int m, int n, int k, bool acc) {
  int i = 0;
  for (; i + ROWS <= m; i += ROWS) rows<ROWS>(c, ldc, a, ars, acs, b, ldb, i, n, k, acc);
  if (ROWS > 4)
    for (; i + 4 <= m; i += 4) rows<4>(c, ldc, a, ars, acs, b, ldb, i, n, k, acc);
  for (; i < m; i++) rows<1>(c, ldc, a, ars, acs, b, ldb, i, n, k, acc);
}

// ---------------------------------------------------------------------------------------------
// One LSTM direction over a part of a batch (tf.layers.lstm's layout, gates i, f, c, o).

struct Direction {
  uint8_t* base;
  const int32_t* f;
  int u, batch, T, g4;
  Direction(uint8_t* memory, int32_t at) : base(memory), f(reinterpret_cast<const int32_t*>(memory + at)) {
    u = f[UNITS];
    batch = f[BATCH];
    T = f[STEPS];
    g4 = 4 * u;
  }
  float* p(Field k) const { return reinterpret_cast<float*>(base + f[k]); }
  const int32_t* digits() const { return reinterpret_cast<const int32_t*>(base + f[DIGITS]); }
  int width() const { return f[ONEHOT] ? 10 : 1; }
  int position(int step) const { return f[REVERSE] ? T - 1 - step : step; }
};

/** Whether every region the descriptor names lies inside the memory, and one-hot digits are 0..9. */
bool valid(uint8_t* memory, size_t length, int32_t at) {
  if (at < 0 || (at & 3) || size_t(at) + FIELDS * 4 > length) return false;
  const Direction d(memory, at);
  if (d.u <= 0 || d.batch <= 0 || d.T <= 0 || d.u > (1 << 16) || d.batch > (1 << 20) || d.T > (1 << 16)) return false;
  const uint64_t u = d.u, B = d.batch, T = d.T, g4 = d.g4;
  const struct { Field field; uint64_t floats; } regions[] = {
    {DIGITS, B * T}, {KERNEL, d.width() * g4}, {RECURRENT, u * g4}, {RECURRENT_T, u * g4}, {BIAS, g4},
    {GATES, T * B * g4}, {CELL, T * B * u}, {CELL_TANH, T * B * u}, {HIDDEN, T * B * u}, {DZ, T * B * g4},
    {DH_NEXT, B * u}, {DC_NEXT, B * u}, {DH_OUT, T * B * u}, {G_KERNEL, d.width() * g4},
    {G_RECURRENT, u * g4}, {G_BIAS, g4},
  };
  for (const auto& r : regions) {
    const int32_t start = d.f[r.field];
    if (start < 0 || (start & 3) || uint64_t(start) + 4 * r.floats > length) return false;
  }
  if (d.f[ONEHOT]) {
    const int32_t* digits = d.digits();
    for (uint64_t k = 0; k < B * T; k++) if (digits[k] < 0 || digits[k] > 9) return false;
  }
  return true;
}

void inputProjection(const Direction& d, int step) {
  const int t = d.position(step);
  const bool onehot = d.f[ONEHOT] != 0;
  const float* kernel = d.p(KERNEL);
  const float* bias = d.p(BIAS);
  for (int b = 0; b < d.batch; b++) {
    const int digit = d.digits()[b * d.T + t];
    float* __restrict__ z = d.p(GATES) + (step * d.batch + b) * d.g4;
    const float* __restrict__ row = onehot ? kernel + digit * d.g4 : kernel;
    const float x = onehot ? 1.0f : float(digit);
    for (int k = 0; k < d.g4; k++) z[k] = bias[k] + x * row[k];
  }
}

/** z + bias at units j … j + n − 1 (no bias: z; the digit network's gates hold theirs already). */
template <bool FULL> inline vf pre(const float* z, const float* bias, int n) { return bias ? get<FULL>(z, n) + get<FULL>(bias, n) : get<FULL>(z, n); }

/** The cell at units j … j + n − 1 of one row: the gates' activations, c, tanh c and h. */
template <bool HARD, bool FULL>
inline void cellForwardLanes(float* gi, int u, float* cell, float* cellTanh, float* hidden, const float* prev, int n, const float* bias = nullptr) {
  const vf i = gatev<HARD>(pre<FULL>(gi, bias, n)), f = gatev<HARD>(pre<FULL>(gi + u, bias ? bias + u : nullptr, n));
  const vf g = tanhv(pre<FULL>(gi + 2 * u, bias ? bias + 2 * u : nullptr, n)), o = gatev<HARD>(pre<FULL>(gi + 3 * u, bias ? bias + 3 * u : nullptr, n));
  const vf c = (prev ? f * get<FULL>(prev, n) : splat(0)) + i * g;
  const vf tc = tanhv(c);
  set<FULL>(gi, i, n);
  set<FULL>(gi + u, f, n);
  set<FULL>(gi + 2 * u, g, n);
  set<FULL>(gi + 3 * u, o, n);
  set<FULL>(cell, c, n);
  set<FULL>(cellTanh, tc, n);
  set<FULL>(hidden, o * tc, n);
}

/** One row's cells, in whole vectors and then its tail (the digit network's rows and the text tagger's). */
template <bool HARD>
inline void cellForwardRow(float* gates, int u, float* cell, float* cellTanh, float* hidden, const float* prev, const float* bias = nullptr) {
  int j = 0;
  for (; j + LANES <= u; j += LANES)
    cellForwardLanes<HARD, true>(gates + j, u, cell + j, cellTanh + j, hidden + j, prev ? prev + j : nullptr, LANES, bias ? bias + j : nullptr);
  if (j < u) cellForwardLanes<HARD, false>(gates + j, u, cell + j, cellTanh + j, hidden + j, prev ? prev + j : nullptr, u - j, bias ? bias + j : nullptr);
}

template <bool HARD>
void cellForward(const Direction& d, int step) {
  const int u = d.u;
  for (int b = 0; b < d.batch; b++) {
    const int row = step * d.batch + b;
    float* gates = d.p(GATES) + row * d.g4;
    float* cell = d.p(CELL) + row * u;
    float* cellTanh = d.p(CELL_TANH) + row * u;
    float* hidden = d.p(HIDDEN) + row * u;
    const float* prev = step == 0 ? nullptr : d.p(CELL) + (row - d.batch) * u;
    cellForwardRow<HARD>(gates, u, cell, cellTanh, hidden, prev);
  }
}

void lstmForward(uint8_t* memory, int32_t at) {
  const Direction d(memory, at);
  for (int step = 0; step < d.T; step++) {
    inputProjection(d, step);
    if (step > 0) {
      float* z = d.p(GATES) + step * d.batch * d.g4;
      const float* h = d.p(HIDDEN) + (step - 1) * d.batch * d.u;
      gemm(z, d.g4, h, d.u, 1, d.p(RECURRENT), d.g4, d.batch, d.g4, d.u, true);
    }
    if (d.f[HARD]) cellForward<true>(d, step);
    else cellForward<false>(d, step);
  }
}

/** One cell's backward step at units j … j + n − 1 of one row. */
template <bool HARD, bool FULL>
inline void cellBackwardLanes(const float* gi, int u, float* dz, const float* cellTanh, const float* prev, const float* dOut, const float* dhNext, float* dcNext, int n) {
  const vf i = get<FULL>(gi, n), f = get<FULL>(gi + u, n), g = get<FULL>(gi + 2 * u, n), o = get<FULL>(gi + 3 * u, n);
  const vf tc = get<FULL>(cellTanh, n);
  const vf cPrev = prev ? get<FULL>(prev, n) : splat(0);
  const vf dh = get<FULL>(dOut, n) + get<FULL>(dhNext, n);
  const vf dc = dh * o * (1.0f - tc * tc) + get<FULL>(dcNext, n);
  set<FULL>(dz, dc * g * gateSlopev<HARD>(i), n);
  set<FULL>(dz + u, dc * cPrev * gateSlopev<HARD>(f), n);
  set<FULL>(dz + 2 * u, dc * i * (1.0f - g * g), n);
  set<FULL>(dz + 3 * u, dh * tc * gateSlopev<HARD>(o), n);
  set<FULL>(dcNext, dc * f, n);
}

template <bool HARD>
void cellBackward(const Direction& d, int step) {
  const int u = d.u;
  for (int b = 0; b < d.batch; b++) {
    const int row = step * d.batch + b;
    const float* gates = d.p(GATES) + row * d.g4;
    float* dz = d.p(DZ) + row * d.g4;
    const float* cellTanh = d.p(CELL_TANH) + row * u;
    const float* prev = step == 0 ? nullptr : d.p(CELL) + (row - d.batch) * u;
    const float* dOut = d.p(DH_OUT) + row * u;
    const float* dhNext = d.p(DH_NEXT) + b * u;
    float* dcNext = d.p(DC_NEXT) + b * u;
    int j = 0;
    for (; j + LANES <= u; j += LANES)
      cellBackwardLanes<HARD, true>(gates + j, u, dz + j, cellTanh + j, prev ? prev + j : nullptr, dOut + j, dhNext + j, dcNext + j, LANES);
    if (j < u) cellBackwardLanes<HARD, false>(gates + j, u, dz + j, cellTanh + j, prev ? prev + j : nullptr, dOut + j, dhNext + j, dcNext + j, u - j);
  }
}

/** Kernel and bias gradients: a one-hot input touches one kernel row, a scalar one scales the single row. */
void inputWeightGradients(const Direction& d) {
  const bool onehot = d.f[ONEHOT] != 0;
  float* __restrict__ gBias = d.p(G_BIAS);
  float* gKernel = d.p(G_KERNEL);
  for (int step = 0; step < d.T; step++) {
    const int t = d.position(step);
    for (int b = 0; b < d.batch; b++) {
      const float* __restrict__ dz = d.p(DZ) + (step * d.batch + b) * d.g4;
      const int digit = d.digits()[b * d.T + t];
      float* __restrict__ row = onehot ? gKernel + digit * d.g4 : gKernel;
      const float x = onehot ? 1.0f : float(digit);
      for (int k = 0; k < d.g4; k++) {
        gBias[k] += dz[k];
        row[k] += x * dz[k];
      }
    }
  }
}

void lstmBackward(uint8_t* memory, int32_t at) {
  const Direction d(memory, at);
  const int u = d.u, g4 = d.g4, B = d.batch;
  float* rt = d.p(RECURRENT_T);
  const float* r = d.p(RECURRENT);
  for (int i = 0; i < u; i++)
    for (int j = 0; j < g4; j++) rt[j * u + i] = r[i * g4 + j];
  std::memset(d.p(DH_NEXT), 0, sizeof(float) * B * u);
  std::memset(d.p(DC_NEXT), 0, sizeof(float) * B * u);
  std::memset(d.p(G_KERNEL), 0, sizeof(float) * d.width() * g4);
  std::memset(d.p(G_RECURRENT), 0, sizeof(float) * u * g4);
  std::memset(d.p(G_BIAS), 0, sizeof(float) * g4);
  for (int step = d.T - 1; step >= 0; step--) {
    if (d.f[HARD]) cellBackward<true>(d, step);
    else cellBackward<false>(d, step);
    // dh_{step−1} = dz_step · Rᵀ
    if (step > 0) gemm(d.p(DH_NEXT), u, d.p(DZ) + step * B * g4, g4, 1, rt, u, B, u, g4, false);
  }
  // dR = Σ_step h_{step−1}ᵀ dz_step over all steps at once: A = hiddenᵀ read by strides.
  gemm(d.p(G_RECURRENT), g4, d.p(HIDDEN), 1, u, d.p(DZ) + B * g4, g4, u, g4, (d.T - 1) * B, true);
  inputWeightGradients(d);
}

// ---------------------------------------------------------------------------------------------
// The bindings: (memory.buffer, byte offsets and sizes as int32) → the calls above.

using v8::FunctionCallbackInfo;
using v8::Local;
using v8::SharedArrayBuffer;
using v8::Value;

struct Memory {
  uint8_t* data = nullptr;
  size_t length = 0;
};

/** Argument k (the first by default): the WebAssembly memory's buffer, or no data. */
Memory memoryOf(const FunctionCallbackInfo<Value>& args, int k = 0) {
  Memory m;
  if (args.Length() <= k || !args[k]->IsSharedArrayBuffer()) return m;
  Local<SharedArrayBuffer> buffer = args[k].As<SharedArrayBuffer>();
  m.data = static_cast<uint8_t*>(buffer->Data());
  m.length = buffer->ByteLength();
  return m;
}

/** Arguments first … first + count − 1 as V values (v8::Int32 or v8::Number), or false if one is not. */
template <typename V, typename T, bool (Value::*Is)() const>
bool read(const FunctionCallbackInfo<Value>& args, int first, int count, T* out) {
  if (args.Length() < first + count) return false;
  for (int k = 0; k < count; k++) {
    const Value* value = *args[first + k];
    if (!(value->*Is)()) return false;
    out[k] = args[first + k].As<V>()->Value();
  }
  return true;
}

/** int32 arguments (nothing a caller of ours passes is anything else). */
bool ints(const FunctionCallbackInfo<Value>& args, int first, int count, int32_t* out) {
  return read<v8::Int32, int32_t, &Value::IsInt32>(args, first, count, out);
}

void fail(const FunctionCallbackInfo<Value>& args, const char* why) {
  v8::Isolate* isolate = args.GetIsolate();
  isolate->ThrowException(v8::Exception::RangeError(v8::String::NewFromUtf8(isolate, why).ToLocalChecked()));
}

template <void (*Run)(uint8_t*, int32_t)>
void Lstm(const FunctionCallbackInfo<Value>& args) {
  const Memory m = memoryOf(args);
  int32_t at;
  if (!m.data || !ints(args, 1, 1, &at) || !valid(m.data, m.length, at)) return fail(args, "native kernels: a descriptor outside the memory");
  Run(m.data, at);
}

/** Whether byte offset `p` with float strides reaches no further than the memory's end. */
bool inside(const Memory& m, int64_t p, int64_t lastFloat) {
  return p >= 0 && (p & 3) == 0 && lastFloat >= 0 && uint64_t(p) + 4 * uint64_t(lastFloat + 1) <= m.length;
}

// gemm(memory, c, ldc, a, ars, acs, b, ldb, m, n, k, accumulate)
void Gemm(const FunctionCallbackInfo<Value>& args) {
  const Memory mem = memoryOf(args);
  int32_t v[11];
  if (!mem.data || !ints(args, 1, 10, v) || args.Length() < 12) return fail(args, "native kernels: gemm's arguments");
  const int32_t c = v[0], ldc = v[1], a = v[2], ars = v[3], acs = v[4], b = v[5], ldb = v[6], m = v[7], n = v[8], k = v[9];
  const bool acc = args[11]->BooleanValue(args.GetIsolate());
  if (m <= 0 || n <= 0 || k <= 0) {
    if (m > 0 && n > 0 && !acc && inside(mem, c, int64_t(m - 1) * ldc + n - 1))
      for (int i = 0; i < m; i++) std::memset(mem.data + c + 4 * int64_t(i) * ldc, 0, 4 * size_t(n));
    return;
  }
  if (ldc < 0 || ars < 0 || acs < 0 || ldb < 0 || !inside(mem, c, int64_t(m - 1) * ldc + n - 1) ||
      !inside(mem, a, int64_t(m - 1) * ars + int64_t(k - 1) * acs) || !inside(mem, b, int64_t(k - 1) * ldb + n - 1))
    return fail(args, "native kernels: a product outside the memory");
  auto f = [&](int32_t p) { return reinterpret_cast<float*>(mem.data + p); };
  gemm(f(c), ldc, f(a), ars, acs, f(b), ldb, m, n, k, acc);
}

template <float (*Fn)(float)>
void Activation(const FunctionCallbackInfo<Value>& args) {
  const Memory m = memoryOf(args);
  int32_t v[3];
  if (!m.data || !ints(args, 1, 3, v) || v[2] < 0 || (v[2] > 0 && (!inside(m, v[0], v[2] - 1) || !inside(m, v[1], v[2] - 1))))
    return fail(args, "native kernels: an activation outside the memory");
  float* to = reinterpret_cast<float*>(m.data + v[0]);
  const float* from = reinterpret_cast<const float*>(m.data + v[1]);
  for (int i = 0; i < v[2]; i++) to[i] = Fn(from[i]);
}

// ---------------------------------------------------------------------------------------------
// The float64 bookkeeping around the kernels, with the same operations in the same order as the
// JavaScript it replaces (src/training/fused/optimizers.ts and wasm/directions.ts), and no fused
// multiply-add: the same bits.

/** A Float64Array argument's numbers, or false. */
bool doubles(Local<Value> value, double** data, size_t* length) {
  if (!value->IsFloat64Array()) return false;
  Local<v8::Float64Array> array = value.As<v8::Float64Array>();
  *data = reinterpret_cast<double*>(static_cast<uint8_t*>(array->Buffer()->Data()) + array->ByteOffset());
  *length = array->Length();
  return true;
}

bool numbers(const FunctionCallbackInfo<Value>& args, int first, int count, double* out) {
  return read<v8::Number, double, &Value::IsNumber>(args, first, count, out);
}

/** Adam as TypedOptimizer applies it: lr·m̂ / (√v̂ + ε) with the bias corrections folded into step and scale. */
__attribute__((optimize("fp-contract=off"))) void adamStep(double* __restrict__ p, const double* __restrict__ g, double* __restrict__ m, double* __restrict__ v,
                                                           size_t n, double step, double scale, double eps, double b1, double b2) {
#pragma STDC FP_CONTRACT OFF
  const double c1 = 1 - b1, c2 = 1 - b2;
  for (size_t i = 0; i < n; i++) {
    const double gi = g[i];
    const double mi = b1 * m[i] + c1 * gi;
    const double vi = b2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= (step * mi) / (std::sqrt(vi) * scale + eps);
  }
}

// adam(params, grads, m, v, step, scale, epsilon, beta1, beta2): Float64Arrays of one length.
void Adam(const FunctionCallbackInfo<Value>& args) {
  double* a[4];
  size_t n[4];
  double x[5];
  for (int k = 0; k < 4; k++)
    if (args.Length() <= k || !doubles(args[k], &a[k], &n[k]) || n[k] != n[0]) return fail(args, "native kernels: adam's arrays");
  if (!numbers(args, 4, 5, x)) return fail(args, "native kernels: adam's numbers");
  adamStep(a[0], a[1], a[2], a[3], n[0], x[0], x[1], x[2], x[3], x[4]);
}

// addInto(target, memory, a, b): target[i] += f32[a][i] (+ f32[b][i]), b = -1 for one part; byte offsets.
void AddInto(const FunctionCallbackInfo<Value>& args) {
  double* target;
  size_t n;
  const Memory m = memoryOf(args, 1);
  int32_t at[2];
  if (!m.data || !doubles(args[0], &target, &n) || !ints(args, 2, 2, at) || n == 0 || !inside(m, at[0], int64_t(n) - 1) ||
      (at[1] != -1 && !inside(m, at[1], int64_t(n) - 1)))
    return fail(args, "native kernels: addInto outside the memory");
  const float* a = reinterpret_cast<const float*>(m.data + at[0]);
  if (at[1] == -1) {
    for (size_t i = 0; i < n; i++) target[i] += a[i];
    return;
  }
  const float* b = reinterpret_cast<const float*>(m.data + at[1]);
  for (size_t i = 0; i < n; i++) target[i] = target[i] + a[i] + b[i];
}

// copySteps(memory, at, features, H, direction, first, count, units, steps, toFeatures): a part's
// buffer [step, count, u] at byte offset `at` to its rows and columns of features [B, T, H], or back.
void CopySteps(const FunctionCallbackInfo<Value>& args) {
  const Memory m = memoryOf(args);
  double* features;
  size_t n;
  int32_t v[7];
  if (!m.data || !ints(args, 1, 1, v) || args.Length() < 10 || !doubles(args[2], &features, &n) || !ints(args, 3, 6, v + 1))
    return fail(args, "native kernels: copySteps' arguments");
  const int32_t at = v[0], H = v[1], direction = v[2], first = v[3], count = v[4], u = v[5], T = v[6];
  const bool toFeatures = args[9]->BooleanValue(args.GetIsolate());
  if (count <= 0 || u <= 0 || T <= 0 || first < 0 || H < (direction + 1) * u || !inside(m, at, int64_t(T) * count * u - 1) ||
      uint64_t(first + count) * T * H > n)
    return fail(args, "native kernels: copySteps outside its arrays");
  float* buffer = reinterpret_cast<float*>(m.data + at);
  for (int step = 0; step < T; step++) {
    const int t = direction == 1 ? T - 1 - step : step;
    for (int b = 0; b < count; b++) {
      float* src = buffer + (int64_t(step) * count + b) * u;
      double* dst = features + (int64_t(first + b) * T + t) * H + direction * u;
      if (toFeatures)
        for (int j = 0; j < u; j++) dst[j] = src[j];
      else
        for (int j = 0; j < u; j++) src[j] = float(dst[j]);
    }
  }
}

/** The Dense(2) head's pre-activations of `rows` rows of features [rows, H], four rows at a time (each row's sums in head.ts's order). */
__attribute__((optimize("fp-contract=off"))) void denseForward(const double* __restrict__ features, size_t rows, int H, const double* __restrict__ kernel,
                                                               const double* __restrict__ bias, double* __restrict__ out) {
#pragma STDC FP_CONTRACT OFF
  size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    double a0[4], a1[4];
    for (int k = 0; k < 4; k++) a0[k] = bias[0], a1[k] = bias[1];
    for (int j = 0; j < H; j++) {
      const double k0 = kernel[2 * j], k1 = kernel[2 * j + 1];
      for (int k = 0; k < 4; k++) {
        const double v = features[(r + k) * H + j];
        a0[k] += v * k0;
        a1[k] += v * k1;
      }
    }
    for (int k = 0; k < 4; k++) out[2 * (r + k)] = a0[k], out[2 * (r + k) + 1] = a1[k];
  }
  for (; r < rows; r++) {
    double a0 = bias[0], a1 = bias[1];
    for (int j = 0; j < H; j++) {
      const double v = features[r * H + j];
      a0 += v * kernel[2 * j];
      a1 += v * kernel[2 * j + 1];
    }
    out[2 * r] = a0, out[2 * r + 1] = a1;
  }
}

/** Back through the Dense(2) head from da [rows, 2]: the head's gradients (summed in row order) and dFeatures [rows, H]. */
__attribute__((optimize("fp-contract=off"))) void denseBackward(const double* __restrict__ features, const double* __restrict__ da, size_t rows, int H,
                                                                const double* __restrict__ kernel, double* __restrict__ gKernel, double* __restrict__ gBias,
                                                                double* __restrict__ dFeatures) {
#pragma STDC FP_CONTRACT OFF
  for (size_t p = 0; p < rows; p++) {
    const double da0 = da[2 * p], da1 = da[2 * p + 1];
    gBias[0] += da0;
    gBias[1] += da1;
    const double* f = features + p * H;
    double* df = dFeatures + p * H;
    for (int j = 0; j < H; j++) {
      const double v = f[j];
      gKernel[2 * j] += v * da0;
      gKernel[2 * j + 1] += v * da1;
      df[j] = da0 * kernel[2 * j] + da1 * kernel[2 * j + 1];
    }
  }
}

// denseForward(features, rows, H, kernel, bias, out) and denseBackward(features, da, rows, H, kernel,
// gKernel, gBias, dFeatures): Float64Arrays, each checked against what the call reads or writes.
void DenseForward(const FunctionCallbackInfo<Value>& args) {
  double *features, *kernel, *bias, *out;
  size_t nf, nk, nb, no;
  int32_t v[2];
  if (args.Length() < 6 || !doubles(args[0], &features, &nf) || !ints(args, 1, 2, v) || !doubles(args[3], &kernel, &nk) ||
      !doubles(args[4], &bias, &nb) || !doubles(args[5], &out, &no))
    return fail(args, "native kernels: denseForward's arguments");
  const int64_t rows = v[0], H = v[1];
  if (rows < 0 || H <= 0 || uint64_t(rows * H) > nf || nk != size_t(2 * H) || nb != 2 || uint64_t(2 * rows) > no)
    return fail(args, "native kernels: denseForward outside its arrays");
  denseForward(features, rows, H, kernel, bias, out);
}

void DenseBackward(const FunctionCallbackInfo<Value>& args) {
  double *features, *da, *kernel, *gKernel, *gBias, *dFeatures;
  size_t nf, nd, nk, ngk, ngb, ndf;
  int32_t v[2];
  if (args.Length() < 8 || !doubles(args[0], &features, &nf) || !doubles(args[1], &da, &nd) || !ints(args, 2, 2, v) ||
      !doubles(args[4], &kernel, &nk) || !doubles(args[5], &gKernel, &ngk) || !doubles(args[6], &gBias, &ngb) || !doubles(args[7], &dFeatures, &ndf))
    return fail(args, "native kernels: denseBackward's arguments");
  const int64_t rows = v[0], H = v[1];
  if (rows < 0 || H <= 0 || uint64_t(rows * H) > nf || uint64_t(2 * rows) > nd || nk != size_t(2 * H) || ngk != size_t(2 * H) || ngb != 2 ||
      uint64_t(rows * H) > ndf)
    return fail(args, "native kernels: denseBackward outside its arrays");
  denseBackward(features, da, rows, H, kernel, gKernel, gBias, dFeatures);
}

/**
 * The text tagger's LSTM cells at one step (src/training/fused/tagger.ts, PackedDirection.forward):
 * `rows` sentences' gates [rows, 4u] (their products, without the bias), the first `carried` of
 * which continue from prevCell [carried, u]; writes the activated gates, cell, tanh cell and hidden.
 */
template <bool HARD>
void taggerCells(float* gates, float* cell, float* cellTanh, float* hidden, const float* prevCell, int rows, int carried, int u, const float* bias) {
  for (int r = 0; r < rows; r++)
    cellForwardRow<HARD>(gates + r * 4 * u, u, cell + r * u, cellTanh + r * u, hidden + r * u, r < carried ? prevCell + r * u : nullptr, bias);
}

// taggerCells(memory, gates, cell, cellTanh, hidden, prevCell (-1: none), rows, carried, units, hard, bias Float64Array [4u]).
void TaggerCells(const FunctionCallbackInfo<Value>& args) {
  const Memory m = memoryOf(args);
  int32_t v[8];
  double* bias64;
  size_t nb;
  if (!m.data || !ints(args, 1, 8, v) || args.Length() < 11 || !doubles(args[10], &bias64, &nb)) return fail(args, "native kernels: taggerCells' arguments");
  const int32_t gates = v[0], cell = v[1], cellTanh = v[2], hidden = v[3], prev = v[4], rows = v[5], carried = v[6], u = v[7];
  const bool hard = args[9]->BooleanValue(args.GetIsolate());
  if (rows <= 0 || u <= 0 || carried < 0 || carried > rows || nb != size_t(4 * u) || !inside(m, gates, int64_t(rows) * 4 * u - 1) ||
      !inside(m, cell, int64_t(rows) * u - 1) || !inside(m, cellTanh, int64_t(rows) * u - 1) || !inside(m, hidden, int64_t(rows) * u - 1) ||
      (carried > 0 && !inside(m, prev, int64_t(carried) * u - 1)))
    return fail(args, "native kernels: taggerCells outside the memory");
  thread_local std::vector<float> bias;
  bias.assign(bias64, bias64 + nb);
  auto f = [&](int32_t p) { return reinterpret_cast<float*>(m.data + p); };
  const float* prevCell = carried > 0 ? f(prev) : nullptr;
  if (hard) taggerCells<true>(f(gates), f(cell), f(cellTanh), f(hidden), prevCell, rows, carried, u, bias.data());
  else taggerCells<false>(f(gates), f(cell), f(cellTanh), f(hidden), prevCell, rows, carried, u, bias.data());
}

void Target(const FunctionCallbackInfo<Value>& args) {
#if defined(__AVX512F__)
  const char* target = "AVX-512";
#elif defined(__AVX2__)
  const char* target = "AVX2";
#elif defined(__ARM_NEON)
  const char* target = "NEON";
#elif defined(__SSE2__)
  const char* target = "SSE2";
#else
  const char* target = "scalar";
#endif
  args.GetReturnValue().Set(v8::String::NewFromUtf8(args.GetIsolate(), target).ToLocalChecked());
}

}  // namespace

// Context-aware: the helper thread (a worker) loads it too.
NODE_MODULE_INIT(/* exports, module, context */) {
  NODE_SET_METHOD(exports, "lstmForward", Lstm<lstmForward>);
  NODE_SET_METHOD(exports, "lstmBackward", Lstm<lstmBackward>);
  NODE_SET_METHOD(exports, "gemm", Gemm);
  NODE_SET_METHOD(exports, "tanhOf", Activation<tanhLane>);
  NODE_SET_METHOD(exports, "sigmoidOf", Activation<sigmoidLane>);
  NODE_SET_METHOD(exports, "target", Target);
  NODE_SET_METHOD(exports, "adam", Adam);
  NODE_SET_METHOD(exports, "addInto", AddInto);
  NODE_SET_METHOD(exports, "copySteps", CopySteps);
  NODE_SET_METHOD(exports, "denseForward", DenseForward);
  NODE_SET_METHOD(exports, "denseBackward", DenseBackward);
  NODE_SET_METHOD(exports, "taggerCells", TaggerCells);
}

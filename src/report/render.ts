import { describeShapes } from '../model/describe.js';
import { Chalk, type ChalkInstance } from 'chalk';
import { describeArithmetic } from '../training/fused/arithmetic.js';
import { describeOptimizer, type Config } from '../config/config.js';
import { plural, spellNumber, thousands } from '../shared/format.js';
import type { Diagnosis, Verdict } from '../diagnosis/diagnosis.js';
import { isSolved, verdict as evaluationVerdict, type Evaluation } from '../task/metrics.js';
import type { RunRecord } from '../sweep/records.js';
import { FLOOR_MARGIN, type ConfigSummary } from '../sweep/sweep.js';
import type { ModelSummary } from '../model/model.js';
import { FORMAT_NAMES, type LoadedModel } from '../model/store.js';
import type { TaggedSequence } from '../task/tagging.js';
import type { BatchRecord, Divergence, EpochRecord } from '../training/train.js';

export type Style = ChalkInstance;

export const plain: Style = new Chalk({ level: 0 });

/**
 * Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org), which chalk
 * itself does not check. FORCE_COLOR still forces it, as chalk documents.
 */
export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  const force = env.FORCE_COLOR;
  if (force === '0' || force === 'false') return plain;
  const wanted = force !== undefined || (stream.isTTY === true && !('NO_COLOR' in env && env.NO_COLOR !== ''));
  return new Chalk({ level: wanted ? 1 : 0 });
}

export { plural, thousands } from '../shared/format.js';
export { visibleLength } from './wrap.js';
import { visibleLength } from './wrap.js';

/** Loss with 4 decimals; "nan"/"inf" spelled as Keras prints them. */
/**
 * One line naming a loaded model: seq-tag's record (architecture, epochs, final loss, seed) for
 * models it trained; the architecture read from the topology and the Keras loss for the others.
 */
export function renderModelLine(path: string, loaded: LoadedModel): string {
  const d = loaded.description;
  const record = loaded.record;
  if (record) {
    const c = record.config;
    const last = record.losses.at(-1);
    const interrupted = record.interrupted ? ` (interrupted at epoch ${record.interrupted.atEpoch} of ${record.interrupted.epochs})` : '';
    return (
      `model ${path} · ${describeRecurrent(c)}, ${c.encoding} input, ${c.activation} head · ` +
      `${plural(record.losses.length, 'epoch')}${interrupted}, final loss ${last === undefined ? 'n/a' : formatLoss(last)} · seed ${c.seed}`
    );
  }
  const from = `${FORMAT_NAMES[loaded.format]}${loaded.kerasVersion ? `, Keras ${loaded.kerasVersion}` : ''}`;
  const c = loaded.compile;
  const loss = c ? ` · loss ${c.loss}${c.fromLogits ? ' (from logits)' : ''}${c.labelSmoothing ? ` (label smoothing ${c.labelSmoothing})` : ''}` : '';
  const input = d.encoding ? `${d.encoding === 'ids' ? 'digit ids' : d.encoding} input` : describeShapes(d);
  const notes = (loaded.notes ?? []).map((n) => `\nnote: ${n}`).join('');
  return `model ${path} (${from}) · ${d.architecture}, ${input}${loss}${notes}`;
}

export function formatLoss(loss: number): string {
  if (Number.isNaN(loss)) return 'nan';
  if (!Number.isFinite(loss)) return loss > 0 ? 'inf' : '-inf';
  return loss.toFixed(4);
}

/** What the NaN guard saw: "NaN guard: training stopped: loss NaN at epoch 1, batch 3". */
export function divergenceText(d: Divergence, stopped: boolean): string {
  const what = d.symptom === 'clip-bound' ? `pinned at the clip bound (${formatLoss(d.loss)})` : formatLoss(d.loss);
  return `${stopped ? 'NaN guard: training stopped' : 'training diverged'}: loss ${what} at epoch ${d.epoch}, batch ${d.batch}`;
}

function shapeText(shape: (number | null)[]): string {
  return `(${shape.map((d) => (d === null ? 'None' : String(d))).join(', ')})`;
}

/** The layer table of Keras's `model.summary()`. */
export function renderSummary(summary: ModelSummary, style: Style = plain): string {
  const rows = summary.layers.map((l) => [`${l.name} (${l.type})`, shapeText(l.outputShape), thousands(l.params)]);
  const head = ['Layer (type)', 'Output Shape', 'Param #'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)) + 4);
  const line = (cells: string[]) => cells[0].padEnd(widths[0]) + cells[1].padEnd(widths[1]) + cells[2].padStart(widths[2] - 4);
  const width = widths[0] + widths[1] + widths[2] - 4;
  const nonTrainable = summary.totalParams - summary.trainableParams;
  return [
    style.bold(line(head)),
    '='.repeat(width),
    ...rows.map(line),
    '='.repeat(width),
    `Total params: ${thousands(summary.totalParams)}`,
    `Trainable params: ${thousands(summary.trainableParams)}`,
    `Non-trainable params: ${thousands(nonTrainable)}`,
  ].join('\n');
}

/** One line per epoch, always the same shape: "epoch  3/20  loss 0.5123  0.41 s". */
export function renderEpoch(record: EpochRecord, totalEpochs: number, style: Style = plain): string {
  const width = String(totalEpochs).length;
  const loss = formatLoss(record.loss);
  const lossText = Number.isFinite(record.loss) ? loss : style.red(loss);
  const v = record.validation;
  const validation = v
    ? `  val loss ${formatLoss(v.loss).padStart(6)}  token ${(100 * v.tokenAccuracy).toFixed(1).padStart(5)}%  exact ${(100 * v.exactMatch).toFixed(1).padStart(5)}%`
    : '';
  const lr = record.lr === undefined ? '' : `  lr ${Number(record.lr.toPrecision(4))}`;
  return `epoch ${String(record.epoch).padStart(width)}/${totalEpochs}  loss ${lossText.padStart(6)}${validation}${lr}  ${record.seconds.toFixed(2)} s`;
}

const COLUMN = 5;
const LABEL = 8;

function cell(text: string): string {
  return text.padStart(COLUMN);
}

function formatProbability(p: number): string {
  if (Number.isNaN(p)) return 'nan';
  if (p >= 0 && p <= 1) return p.toFixed(2);
  return p > 1 ? '>1' : '<0';
}

/**
 * The seed program's test view, per sequence: the digits, `*` under the truly repeated pair, and
 * `*` where the model says P(repeated) > 0.5. On a terminal, hits are green, false alarms red,
 * and missed truths yellow in the truth line. `probs` adds a line of P(repeated).
 */
/** A raw output in a cell: "-3.1", "0.42", "nan". */
function formatRaw(v: number): string {
  if (!Number.isFinite(v)) return String(v).replace('Infinity', 'inf').toLowerCase();
  return Math.abs(v) >= 10 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toFixed(2);
}

/** The model row with its verdict beside it, or under it when the two do not fit the width. */
function withVerdict(row: string, verdict: (lead: string) => string, columns = Infinity): string {
  const beside = row + verdict('  ');
  return visibleLength(beside) <= columns ? beside : `${row}\n${' '.repeat(LABEL)}${verdict('')}`;
}

/** A user's sequences: inputs, true tags and the model's, one column per position (padding left out). */
function renderTaggedData(seqs: TaggedSequence[], options: { probs?: boolean; style?: Style; columns?: number }): string {
  const style = options.style ?? plain;
  const width = Math.max(COLUMN, ...seqs.flatMap((s) => s.digits.map((d) => String(d).length + 1)));
  const cellOf = (text: string) => text.padStart(width);
  return seqs
    .map((s) => {
      const wrong = s.predicted.filter((p, k) => p !== s.truth[k]).length;
      const lines = [
        style.dim('input'.padEnd(LABEL)) + s.digits.map((d) => cellOf(String(d))).join(''),
        style.dim('truth'.padEnd(LABEL)) + s.truth.map((t) => cellOf(String(t))).join(''),
        withVerdict(
          style.dim('model'.padEnd(LABEL)) +
            s.predicted.map((p, k) => (p === s.truth[k] ? style.green(cellOf(String(p))) : style.red(cellOf(String(p))))).join(''),
          (lead) => (wrong ? style.red(`${lead}✗ ${wrong} wrong`) : style.green(`${lead}✓ exact`)),
          options.columns,
        ),
      ];
      if (options.probs && s.probs) lines.push(style.dim('P(tag 1)'.padEnd(LABEL)) + s.probs.map((p) => cellOf(formatProbability(p))).join(''));
      return lines.map((l) => l.trimEnd()).join('\n');
    })
    .join('\n\n');
}

/**
 * Tagged sequences as aligned rows. The digit task marks repeated positions with `*`; any other
 * data (`task: false`) shows tag numbers. `probs`: P(repeated) per position for a probability head,
 * the raw outputs of tag 0 and tag 1 for any other head.
 */
export function renderTagged(seqs: TaggedSequence[], options: { probs?: boolean; style?: Style; task?: boolean; columns?: number } = {}): string {
  if (options.task === false) return renderTaggedData(seqs, options);
  const style = options.style ?? plain;
  const blocks = seqs.map((s) => {
    const truth = s.truth.map((t, k) => (t ? (s.predicted[k] ? style.green(cell('*')) : style.yellow(cell('*'))) : cell('')));
    const model = s.predicted.map((p, k) => (p ? (s.truth[k] ? style.green(cell('*')) : style.red(cell('*'))) : cell('')));
    const missed = s.truth.filter((t, k) => t && !s.predicted[k]).length;
    const falseAlarms = s.predicted.filter((p, k) => p && !s.truth[k]).length;
    const errors = [missed && `${missed} missed`, falseAlarms && `${falseAlarms} false alarm${falseAlarms > 1 ? 's' : ''}`].filter(Boolean).join(', ');
    const verdict = (lead: string) => (errors ? style.red(`${lead}✗ ${errors}`) : style.green(`${lead}✓ exact`));
    const lines = [
      style.dim('digits'.padEnd(LABEL)) + s.digits.map((d) => cell(String(d))).join(''),
      style.dim('truth'.padEnd(LABEL)) + truth.join(''),
      withVerdict(style.dim('model'.padEnd(LABEL)) + model.join(''), verdict, options.columns),
    ];
    if (options.probs && s.probs) lines.push(style.dim('P(rep)'.padEnd(LABEL)) + s.probs.map((p) => cell(formatProbability(p))).join(''));
    if (options.probs && s.outputs) {
      for (const tag of [0, 1]) lines.push(style.dim(`out[${tag}]`.padEnd(LABEL)) + s.outputs.map((row) => cell(formatRaw(row[tag]))).join(''));
    }
    return lines.map((l) => l.trimEnd()).join('\n');
  });
  return blocks.join('\n\n');
}

/** JSON for --json output. Non-finite numbers become the strings "NaN", "Infinity", "-Infinity" (JSON has no literal for them). */
export function toJson(doc: unknown, indent = 2): string {
  return JSON.stringify(doc, spellNumber, indent);
}

const MARKS: Record<Verdict, string> = { pass: '✓', warn: '!', fail: '✗', info: '·' };

function mark(verdict: Verdict, style: Style): string {
  const colour = { pass: style.green, warn: style.yellow, fail: style.red, info: style.dim }[verdict];
  return colour(MARKS[verdict]);
}

/**
 * The diagnosis as a checklist (✓ ! ✗ ·) with evidence and fixes, then the most likely cause.
 * The evidence sits beside the titles when that leaves it half the width, else under each title.
 */
export function renderDiagnosis(diagnosis: Diagnosis, style: Style = plain, columns = Infinity): string {
  const width = Math.max(...diagnosis.checks.map((c) => c.title.length)) + 2;
  const beside = 4 + width <= columns / 2;
  const lines: string[] = [];
  for (const c of diagnosis.checks) {
    const title = `  ${mark(c.verdict, style)} ${c.title}`;
    const indent = beside ? ' '.repeat(4 + width) : '      ';
    lines.push(beside ? `  ${mark(c.verdict, style)} ${c.title.padEnd(width)}${c.evidence}` : `${title}\n${indent}${c.evidence}`);
    if (c.fix && c.verdict !== 'pass' && c.verdict !== 'info') lines.push(`${indent}${style.dim('fix:')} ${c.fix}`);
  }
  lines.push('');
  if (diagnosis.cause && diagnosis.cause.verdict === 'fail') {
    lines.push(`${style.bold('most likely cause:')} ${diagnosis.cause.title} (${diagnosis.cause.id}) — fix: ${style.bold(diagnosis.cause.fix ?? 'see above')}`);
  } else if (!diagnosis.healthy) {
    lines.push(`${style.bold('most likely cause:')} unclear — the checks passed on a fresh model; the run diverged later (try --clipnorm 1 or a lower --lr)`);
  } else if (diagnosis.cause) {
    lines.push(`${style.bold('healthy, with a warning:')} ${diagnosis.cause.title} — ${diagnosis.cause.fix}`);
  } else {
    lines.push(`${style.bold(style.green('healthy:'))} no check failed`);
  }
  return lines.join('\n');
}

/** "LSTM 16 × 2 directions", "GRU 32 × 2 layers": the recurrent layers of a config. */
export function describeRecurrent(config: Pick<Config, 'cell' | 'units' | 'bidirectional' | 'layers'>): string {
  const layers = config.layers > 1 ? ` × ${config.layers} layers` : '';
  return `${config.cell === 'gru' ? 'GRU' : 'LSTM'} ${config.units}${config.bidirectional ? ' × 2 directions' : ''}${layers}`;
}

/** "LSTM 16 → BatchNorm → Dense(2, softmax) · adam (lr 0.001, epsilon 1e-7) · NaN guard on · fused engine, float32 (WebAssembly SIMD, 1 thread: under 32 units)" */
export function describeExperiment(config: Config, threads?: number, tags = 2): string {
  const input = { onehot: 'one-hot input', scalar: 'scalar input', embedding: `Embedding ${config.embeddingDim} (mask_zero)` }[config.encoding];
  const layers = [
    input,
    describeRecurrent(config),
    ...(config.batchNorm ? ['BatchNorm'] : []),
    ...(config.layerNorm ? ['LayerNorm'] : []),
    `Dense(${tags}, ${config.activation})`,
  ];
  return `${layers.join(' → ')} · ${describeOptimizer(config)} · NaN guard ${config.nanGuard ? 'on' : 'off'} · ${describeEngine(config, threads)}`;
}

/** "fused engine, float32 (WebAssembly SIMD, 2 threads: 32 units or more)" or "layers engine, float32 (tfjs)". */
export function describeEngine(config: Config, threads?: number): string {
  return config.lstm === 'fused' ? `fused engine, ${describeArithmetic(config, threads)}` : 'layers engine, float32 (tfjs)';
}

/** The held-out evaluation: each metric beside its no-skill reference, then the verdict in words. */
export function renderEvaluation(e: Evaluation, style: Style = plain, options: { task?: boolean; loss?: string; next?: string } = {}): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(6);
  const lossNote = options.loss && options.loss !== 'categorical_crossentropy' ? `${options.loss}; ` : '';
  const rows: [string, string, string][] =
    options.task === false
      ? [
          ['loss', e.loss === null ? 'n/a' : formatLoss(e.loss).padStart(6), `${lossNote}floor ${e.floor.toFixed(4)} (entropy of the tags)`],
          ['token accuracy', pct(e.tokenAccuracy), `baseline ${pct(e.baselineAccuracy).trim()} (every position the most frequent tag)`],
          ['exact match', pct(e.exactMatch), 'every tag of a sequence right'],
          // The mean of the per-tag rows printed under it (Evaluation.precision is tag 1's for two tags, the task's reading).
          ['precision', pct(meanOf(e.perTag, 'precision', e.precision)), `mean over ${e.perTag?.length} tags`],
          ['recall', pct(meanOf(e.perTag, 'recall', e.recall)), `mean over ${e.perTag?.length} tags`],
          ...(e.perTag ?? []).map((t): [string, string, string] => [
            `  tag ${t.tag}`,
            pct(t.recall),
            `recall; precision ${pct(t.precision).trim()}; ${thousands(t.support)} positions`,
          ]),
        ]
      : [
          ['loss', e.loss === null ? 'n/a' : formatLoss(e.loss).padStart(6), `floor ${e.floor.toFixed(4)} (entropy of the labels)`],
          ['token accuracy', pct(e.tokenAccuracy), `baseline ${pct(e.baselineAccuracy).trim()} (tag every digit unique)`],
          ['exact match', pct(e.exactMatch), 'all 10 tags right'],
          ['precision', pct(e.precision), 'of positions tagged repeated'],
          ['recall', pct(e.recall), `first occurrence ${pct(e.recallFirst).trim()}, second ${pct(e.recallSecond).trim()}`],
          ['F1', e.f1.toFixed(3).padStart(6), 'repeated class'],
        ];
  const solved = isSolved(e);
  const say = solved ? style.green : style.yellow;
  return [
    ...rows.map(([name, value, note]) => `  ${name.padEnd(16)}${style.bold(value)}  ${style.dim(note)}`),
    ...(e.lossWhy ? [`${style.bold(`loss ${formatLoss(e.loss!)}:`)} ${lossWhyText(e.lossWhy)}`] : []),
    `${style.bold('verdict:')} ${say(evaluationVerdict(e))}`,
    ...(options.next ? [`${style.bold('why, and next:')} ${options.next}`] : []),
  ].join('\n');
}

/** The mean of one score over the per-tag rows (`fallback` when there are none). */
function meanOf(rows: Evaluation['perTag'], key: 'precision' | 'recall', fallback: number): number {
  return rows?.length ? rows.reduce((sum, t) => sum + t[key], 0) / rows.length : fallback;
}

/** "as Keras reports it: 22 scored positions have a loss that is not finite (22 of their output rows sum to 0: …); over the other positions the loss is 12.8590". */
function lossWhyText(why: NonNullable<Evaluation['lossWhy']>): string {
  const zeroSum = (rows: number) => (rows ? ` (${thousands(rows)} of their output rows sum to 0: the loss divides each row by its sum, 0/0)` : '');
  const plural = (n: number, one: string, many: string) => `${thousands(n)} ${n === 1 ? one : many}`;
  const parts = [
    ...(why.positions ? [`${plural(why.positions, 'scored position has', 'scored positions have')} a loss that is not finite${zeroSum(why.zeroSumRows)}`] : []),
    ...(why.padded
      ? [
          `${plural(why.padded, 'padded position has', 'padded positions have')} a loss that is not finite${zeroSum(why.paddedZeroSumRows)}, and Keras weights padding by 0 only after computing it (nan × 0 is nan)`,
        ]
      : []),
  ];
  const over = why.positions ? 'over the other positions' : 'over the real positions';
  const other = why.otherLoss === null ? '' : `; ${over} the loss is ${formatLoss(why.otherLoss)}`;
  return `as Keras reports it: ${parts.join('; ')}${other}`;
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** "███████░░░░░░░░░░░░░ 12/40 runs · 0:42 elapsed · ETA 1:38", fitted into `columns`. */
export function renderProgress(done: number, total: number, elapsedSeconds: number, style: Style = plain, columns = Infinity): string {
  const eta = done > 0 && done < total ? ` · ETA ${clock((elapsedSeconds / done) * (total - done))}` : '';
  const text = ` ${done}/${total} runs · ${clock(elapsedSeconds)} elapsed${eta}`;
  const width = Math.max(0, Math.min(24, columns - 1 - text.length));
  const filled = Math.round((width * done) / total);
  const line = `${style.cyan('█'.repeat(filled))}${style.dim('░'.repeat(width - filled))}${width ? text : text.trimStart()}`;
  return visibleLength(line) < columns ? line : line.slice(0, Math.max(0, columns - 1));
}

/** One finished sweep run as a plain line, for logs and pipes. */
export function renderSweepRun(r: RunRecord, done: number, total: number, resumed: boolean): string {
  const width = String(total).length;
  const outcome =
    r.status === 'failed'
      ? `failed: ${r.error}`
      : r.divergence
        ? `diverged at epoch ${r.divergence.epoch}, batch ${r.divergence.batch} (loss ${formatLoss(r.divergence.loss)})`
        : `final loss ${formatLoss(r.epochs.at(-1)?.loss ?? NaN)}${r.evaluation ? `, exact-match ${(100 * r.evaluation.exactMatch).toFixed(1)}%` : ''}`;
  return `[${String(done).padStart(width)}/${total}] ${r.label} · seed ${r.seed}: ${outcome}${resumed ? ' (already done)' : ` · ${r.seconds.toFixed(1)} s`}`;
}

/** `text` cut to `width` characters with an ellipsis. */
function ellipsize(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/**
 * The sweep's result table, one row per configuration, then the verdicts. Fitted into `columns`:
 * on a narrow terminal the configuration names are shortened, then the least important columns go.
 */
export function renderSweepTable(summaries: ConfigSummary[], floor: number, style: Style = plain, columns = Infinity): string {
  const pct = (x: number | null) => (x === null ? '—' : `${(100 * x).toFixed(0)}%`);
  const pct1 = (x: number | null) => (x === null ? '—' : `${(100 * x).toFixed(1)}%`);
  const table: [string, (s: ConfigSummary) => string][] = [
    ['configuration', (s) => s.label],
    ['runs', (s) => (s.failed ? `${s.runs - s.failed}+${s.failed} failed` : String(s.runs))],
    ['NaN ep 1', (s) => pct(s.divergedEpoch1)],
    ['NaN any', (s) => pct(s.divergedAny)],
    [
      'final loss (median, range)',
      // The range at the median's precision: a median never shows outside its own range.
      (s) => (s.finalLoss ? `${s.finalLoss.median.toFixed(4)} (${s.finalLoss.min.toFixed(4)}–${s.finalLoss.max.toFixed(4)})` : '—'),
    ],
    ['token', (s) => pct1(s.tokenAccuracy)],
    ['exact', (s) => pct1(s.exactMatch)],
    ['F1', (s) => (s.f1 === null ? '—' : s.f1.toFixed(3))],
    ['s/run', (s) => s.secondsPerRun.toFixed(1)],
  ];
  // Dropped first when the terminal is too narrow for all of them; then the loss loses its range.
  const expendable = ['s/run', 'F1', 'NaN ep 1', 'runs', 'token', 'exact'];
  const medianOnly: (typeof table)[number] = ['final loss', (s) => (s.finalLoss ? s.finalLoss.median.toFixed(4) : '—')];
  let kept = table;
  const widthsOf = (cols: typeof table) => cols.map(([h, f]) => Math.max(h.length, ...summaries.map((s) => f(s).length)));
  const total = (cols: typeof table, labelWidth: number) =>
    widthsOf(cols)
      .slice(1)
      .reduce((a, w) => a + w + 2, labelWidth);
  const MIN_LABEL = 16;
  while (total(kept, MIN_LABEL) >= columns && kept.some(([h]) => expendable.includes(h))) {
    const drop = expendable.find((h) => kept.some(([k]) => k === h));
    kept = kept.filter(([h]) => h !== drop);
  }
  if (total(kept, MIN_LABEL) >= columns) kept = kept.map((col) => (col[0].startsWith('final loss') ? medianOnly : col));
  const widths = widthsOf(kept);
  const fullLabels = Math.max(...summaries.map((s) => s.label.length));
  widths[0] = Math.max(MIN_LABEL, Math.min(widths[0], columns - 1 - total(kept, 0)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === 0 ? ellipsize(cell, widths[0]).padEnd(widths[0]) : cell.padStart(widths[c]))).join('  ');
  const colourFor = (verdict: string) => (/ and learns /.test(verdict) ? style.green : /^(does not|hides|diverges)/.test(verdict) ? style.red : style.yellow);
  return [
    style.bold(line(kept.map(([h]) => h))),
    widths.map((w) => '─'.repeat(w)).join('  '),
    ...summaries.map((s) => line(kept.map(([, f]) => f(s)))),
    '',
    `no-skill floor (entropy of the labels): ${Number.isNaN(floor) ? 'none (no run was scored)' : `${floor.toFixed(4)} nats`}; NaN counts the wasm backend's loss pinned at −ln(1e-7) too`,
    `"learns": median final loss at least ${FLOOR_MARGIN} below the floor and exact-match above 0%; "at the floor": within ${FLOOR_MARGIN} of it`,
    '',
    // The verdicts name each configuration in full: beside it when that leaves room, else under it.
    ...summaries.map((s) =>
      fullLabels + 32 <= columns ? `${s.label.padEnd(fullLabels)}  ${colourFor(s.verdict)(s.verdict)}` : `${s.label}\n    ${colourFor(s.verdict)(s.verdict)}`,
    ),
  ].join('\n');
}

/**
 * Within-epoch progress for long epochs: "epoch  3/20 ▕██████░░░░░░▏ 45/188 batches · loss 0.5123".
 * Fitted into `columns` (the terminal's width): the bar shrinks, then the loss goes, so a redraw
 * never wraps onto a new line.
 */
export function renderBatchProgress(b: BatchRecord, totalEpochs: number, style: Style = plain, columns = Infinity): string {
  const epochWidth = String(totalEpochs).length;
  const head = `epoch ${String(b.epoch).padStart(epochWidth)}/${totalEpochs} `;
  const count = ` ${b.batch}/${b.batches} batches`;
  const loss = ` · loss ${formatLoss(b.loss)}`;
  const room = columns - 1 - head.length - count.length - 2;
  const tail = room - loss.length >= 8 ? count + loss : count;
  const width = Math.max(0, Math.min(20, room - (tail.length - count.length)));
  const filled = Math.round((width * b.batch) / b.batches);
  const bar = width >= 4 ? `▕${style.cyan('█'.repeat(filled))}${style.dim('░'.repeat(width - filled))}▏` : '';
  const line = `${head}${bar}${tail}`;
  return visibleLength(line) < columns ? line : line.slice(0, Math.max(0, columns - 1));
}

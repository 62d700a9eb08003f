// Screens of a run on the user's tagged text: the data it read, its tagging scores (per tag,
// entities, confusions), and tagged sentences as word/TAG. The printer wraps the long lines.
import type { Encoded } from '../task/vocabulary.js';
import { isPresent, type Evaluation } from '../task/metrics.js';
import type { TaggedSentence } from '../task/tagging.js';
import { FORMAT_NAMES, sentenceCount, type Corpus } from '../task/corpus.js';
import type { TextRun } from '../task/text-data.js';
import type { Rows } from '../task/tag-data.js';
import { plural, thousands } from '../shared/format.js';
import { formatLoss, plain, type Style } from './render.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** "CoNLL-U, upos; 3 comments, 2 multi-word token lines skipped" */
function fileNote(c: Corpus): string {
  const s = c.skipped;
  const skipped = [
    s.comments && plural(s.comments, 'comment'),
    s.multiwordTokens && plural(s.multiwordTokens, 'multi-word token line'),
    s.emptyNodes && plural(s.emptyNodes, 'empty node'),
    s.docstarts && plural(s.docstarts, '-DOCSTART- line'),
    s.emptySentences &&
      plural(s.emptySentences, c.format === 'npz' ? 'row with no word' : 'empty sentence', c.format === 'npz' ? 'rows with no word' : undefined),
  ].filter(Boolean);
  const column =
    c.format === 'word-tag' || c.format === 'npz'
      ? ''
      : `, tags from ${/^\d+$/.test(c.tagColumn) ? `column ${c.tagColumn}` : c.tagColumn === 'last' ? 'the last column' : c.tagColumn}`;
  return `${FORMAT_NAMES[c.format]}${column}${skipped.length ? `; skipped ${skipped.join(', ')}` : ''}`;
}

function fileLine(role: string, c: Corpus, e: Encoded): string {
  const pieces = e.split ? `; ${plural(e.split, 'sentence')} over --max-length split` : '';
  const unknown = role === 'train' || c.format === 'npz' ? '' : `; ${pct(e.tokens ? e.unknown / e.tokens : 0)} of words unknown`;
  return `${role} ${c.path}: ${plural(sentenceCount(c), 'sentence')}, ${plural(e.tokens, 'word')} (${fileNote(c)}${pieces}${unknown})`;
}

/** The data lines of a text run's header. */
export function describeTextRun(text: TextRun): string[] {
  const v = text.vocabulary;
  const { train, validation, test } = text.corpora;
  return [
    fileLine('train', train, text.train),
    ...(validation ? [fileLine('validation', validation, text.validation!)] : []),
    ...(test ? [fileLine('test', test, text.test!)] : []),
    v.ids
      ? `vocabulary ${thousands(v.words.length)} ids (the files' own; 0 = padding) · ${plural(v.tags.length, 'tag')} (y's ids)`
      : `vocabulary ${thousands(v.words.length)} ids (padding, <unk>, words seen ${v.minCount > 1 ? `${v.minCount}+ times` : 'in training'}${v.lowercase ? ', lowercased' : ''}) · ${plural(v.tags.length, 'tag')}`,
  ];
}

/** "150 sentences" of text (rows of pieces counted once), or "96 sequences" of an .npz: what a command scored. */
export function dataSize(data: Pick<Rows, 'sentences' | 'n' | 'tagNames'>): string {
  return plural(data.sentences ?? data.n, data.tagNames ? 'sentence' : 'sequence');
}

/** "sentences × words" for the header's first line. */
export function textSize(text: TextRun): string {
  const { n, steps } = text.train.data;
  const sentences = sentenceCount(text.corpora.train);
  return `${plural(sentences, 'sentence')} (${n === sentences ? '' : `${thousands(n)} pieces of `}≤ ${steps} words)`;
}

/** Scores of a text tagger: the summary rows, per-tag table, entities and confusions, then the verdict. */
export function renderTextEvaluation(e: Evaluation, style: Style = plain): string {
  const names = e.tagNames ?? [];
  const name = (t: number) => names[t] ?? String(t);
  const row = (label: string, value: string, note: string) => `  ${label.padEnd(16)}${style.bold(value.padStart(6))}  ${style.dim(note)}`;
  const lines = [
    row('loss', e.loss === null ? 'n/a' : formatLoss(e.loss), `floor ${e.floor.toFixed(4)} (entropy of the tags)`),
    row('token accuracy', pct(e.tokenAccuracy), `baseline ${pct(e.baselineAccuracy)} (every word the most frequent tag)`),
    row('sentences right', pct(e.exactMatch), `every tag right, of ${thousands(e.sequences)} (pieces of those over --max-length count apart)`),
    row('macro F1', (e.macroF1 ?? 0).toFixed(3), `mean over ${e.perTag?.filter(isPresent).length} tags; micro F1 = token accuracy`),
  ];
  if (e.entities) {
    const en = e.entities;
    lines.push(
      row('entity F1', en.f1.toFixed(3), `precision ${pct(en.precision)}, recall ${pct(en.recall)}; ${thousands(en.support)} chunks (seqeval, conlleval)`),
    );
  }
  const width = Math.max(3, ...names.map((n) => Math.min(n.length, 12)));
  // A row of the per-tag or per-entity table: the name cut to 12 columns, then precision, recall, F1, support.
  const tableRow = (label: string, [p, r, f1, n]: string[]) =>
    `  ${label.slice(0, 12).padEnd(width)}  ${p.padStart(9)} ${r.padStart(7)} ${f1.padStart(6)} ${n.padStart(8)}`;
  const scores = (p: number, r: number, f1: number, n: number) => [pct(p), pct(r), f1.toFixed(3), thousands(n)];
  const headings = ['precision', 'recall', 'F1', 'support'];
  const tagRows = (e.perTag ?? [])
    .filter(isPresent)
    .sort((a, b) => b.support - a.support || (b.predicted ?? 0) - (a.predicted ?? 0))
    .map((t) => tableRow(name(t.tag), scores(t.precision, t.recall, t.f1 ?? 0, t.support)));
  lines.push('', style.dim(tableRow('tag', headings)), ...tagRows);
  if (e.entities?.types.length) {
    lines.push('', style.dim(tableRow('entity', headings)));
    for (const t of e.entities.types) lines.push(tableRow(t.type, scores(t.precision, t.recall, t.f1, t.support)));
  }
  if (e.confusions?.length) {
    const pairs = e.confusions.map((c) => `${name(c.truth)} → ${name(c.predicted)} ${thousands(c.count)}`).join(', ');
    lines.push('', `most confused (true → tagged): ${pairs}`);
  }
  lines.push(`${style.bold('verdict:')} ${textVerdict(e, style)}`);
  return lines.join('\n');
}

/** Has the tagger learned anything beyond the most frequent tag? */
export function textVerdict(e: Evaluation, style: Style = plain): string {
  if (e.loss !== null && !Number.isFinite(e.loss)) return style.red(`loss ${e.loss}, not finite: seq-tag doctor --model says why`);
  if (e.tokenAccuracy <= e.baselineAccuracy)
    return style.yellow(
      `not learned: token accuracy ${pct(e.tokenAccuracy)} is no better than tagging every word with the most frequent tag (${pct(e.baselineAccuracy)})`,
    );
  const entities = e.entities ? `, entity F1 ${e.entities.f1.toFixed(3)}` : '';
  return style.green(
    `learned: token accuracy ${pct(e.tokenAccuracy)} against ${pct(e.baselineAccuracy)} for the most frequent tag; macro F1 ${(e.macroF1 ?? 0).toFixed(3)}${entities}`,
  );
}

/** Sentences as word/TAG, one per line (the printer wraps them); with `truth`, a wrong tag is shown with the right one: word/NN(≠JJ). */
export function renderTaggedSentences(sentences: TaggedSentence[], options: { style?: Style; truth?: string[][] } = {}): string {
  const style = options.style ?? plain;
  return sentences
    .map((s, i) => {
      const words = s.words.map((w, k) => {
        const gold = options.truth?.[i][k];
        if (gold === undefined || gold === s.tags[k]) return `${w}/${s.tags[k]}`;
        return style.red(`${w}/${s.tags[k]}(≠${gold})`);
      });
      return `  ${words.join(' ')}`;
    })
    .join('\n');
}

/**
 * The user's tagged text (issue #34): CoNLL-U, CoNLL columns and word/TAG lines read into one
 * internal form, with the awkward lines each format has; the vocabulary built from training only;
 * the ids, masks and pieces of long sentences; and entity scores as seqeval and conlleval give them.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { detectFormat, readCorpus, sentenceCount, tokenCount } from '../src/task/corpus.js';
import { chunks, entityScores, isChunkScheme } from '../src/task/entities.js';
import { invalidUtf8At, lines } from '../src/task/lines.js';
import { evaluateTags } from '../src/task/metrics.js';
import { buildVocabulary, encodeCorpus, encodeSentences, UNKNOWN_ID, wordIds } from '../src/task/vocabulary.js';
import { LIMITS } from '../src/shared/limits.js';
import { oneHotLabels, packedRows, padded, rowLengths, rowsOf } from '../src/task/tag-data.js';
import { tempDir } from './helpers.js';

const FIXTURES = new URL('../../test/fixtures/', import.meta.url).pathname;

function file(name: string, text: string | Uint8Array): string {
  const path = join(tempDir(), name);
  writeFileSync(path, text);
  return path;
}

const words = (c: Awaited<ReturnType<typeof readCorpus>>, s: number) => Array.from(c.words.subarray(c.starts[s], c.starts[s + 1]), (w) => c.forms[w]);
const tags = (c: Awaited<ReturnType<typeof readCorpus>>, s: number) => Array.from(c.tags.subarray(c.starts[s], c.starts[s + 1]), (t) => c.tagNames[t]);

const CONLLU = [
  '# sent_id = 1',
  '# text = Vámonos al mar.',
  '1-2\tVámonos\t_\t_\t_\t_\t_\t_\t_\t_',
  '1\tVamos\tir\tVERB\tVMM\t_\t0\troot\t_\t_',
  '2\tnos\tnosotros\tPRON\tPP\t_\t1\tobj\t_\t_',
  '3-4\tal\t_\t_\t_\t_\t_\t_\t_\t_',
  '3\ta\ta\tADP\tSP\t_\t5\tcase\t_\t_',
  '4\tel\tel\tDET\tDA\t_\t5\tdet\t_\t_',
  '5\tmar\tmar\tNOUN\tNC\t_\t1\tobl\t_\t_',
  '5.1\tva\tir\tVERB\t_\t_\t_\t_\t1:conj\t_',
  '6\t.\t.\tPUNCT\tFp\t_\t1\tpunct\t_\t_',
  '',
  '# sent_id = 2',
  '1\tHola\thola\tINTJ\tI\t_\t0\troot\t_\t_',
  '',
].join('\n');

describe('CoNLL-U', () => {
  it('reads words and their upos (or xpos); comments, multi-word token lines and empty nodes are skipped and counted', async () => {
    const path = file('es.conllu', CONLLU);
    const c = await readCorpus(path);
    assert.equal(c.format, 'conllu');
    assert.equal(sentenceCount(c), 2);
    assert.deepEqual(words(c, 0), ['Vamos', 'nos', 'a', 'el', 'mar', '.']);
    assert.deepEqual(tags(c, 0), ['VERB', 'PRON', 'ADP', 'DET', 'NOUN', 'PUNCT']);
    assert.deepEqual(c.skipped, { emptySentences: 0, docstarts: 0, multiwordTokens: 2, emptyNodes: 1, comments: 3 });
    assert.deepEqual(tags(await readCorpus(path, { tagColumn: 'xpos' }), 0), ['VMM', 'PP', 'SP', 'DA', 'NC', 'Fp']);
    assert.equal(c.tagColumn, 'upos');
  });

  it('refuses a line without 10 columns, an empty tag and a bad ID at FILE:LINE, naming what to do', async () => {
    const short = file('a.conllu', CONLLU.replace('2\tnos\tnosotros\tPRON\tPP\t_\t1\tobj\t_\t_', '2\tnos\tnosotros\tPRON'));
    await assert.rejects(readCorpus(short), {
      message: `${short}:5: expected 10 tab-separated columns (ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC), found 4`,
    });
    const noXpos = file('b.conllu', CONLLU.replace('\tVMM\t', '\t_\t'));
    await assert.rejects(readCorpus(noXpos, { tagColumn: 'xpos' }), {
      message: `${noXpos}:4: the xpos column is empty ("_") for "Vamos"; use --tag-column upos`,
    });
    const badId = file('c.conllu', CONLLU.replace('1\tHola', 'x\tHola'));
    await assert.rejects(readCorpus(badId), /c\.conllu:14: ID "x" is not a word index/);
    await assert.rejects(readCorpus(file('d.conllu', CONLLU), { tagColumn: 3 }), /a CoNLL-U file takes --tag-column upos or xpos/);
  });
});

describe('CoNLL columns (CoNLL-2000, CoNLL-2003)', () => {
  const CONLL2003 =
    '-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n';

  it('takes the word first and the tag last (or --tag-column N); -DOCSTART- lines and extra blank lines are skipped', async () => {
    const path = file('train.conll', CONLL2003);
    const c = await readCorpus(path);
    assert.equal(c.format, 'conll');
    assert.equal(sentenceCount(c), 2);
    assert.deepEqual(words(c, 1), ['Peter', 'Blackburn']);
    assert.deepEqual(tags(c, 0), ['B-ORG', 'O', 'B-MISC']);
    assert.equal(c.skipped.docstarts, 1);
    assert.deepEqual(tags(await readCorpus(path, { tagColumn: 2 }), 0), ['NNP', 'VBZ', 'JJ']);
    assert.deepEqual(c.lines, Int32Array.of(3, 8));
  });

  it('refuses a line with another number of columns: FILE:LINE: expected N columns, found M', async () => {
    const path = file('bad.conll', CONLL2003.replace('rejects VBZ B-VP O', 'rejects VBZ O'));
    await assert.rejects(readCorpus(path), (err: Error) => err.message.startsWith(`${path}:4: expected 4 columns, found 3`));
    await assert.rejects(readCorpus(file('x.conll', CONLL2003), { tagColumn: 7 }), /x\.conll:3: --tag-column 7: the file has 4 columns/);
  });

  it('reads Windows line ends, a byte-order mark and a last line without a newline', async () => {
    const c = await readCorpus(file('crlf.conll', '\ufeffThe DT\r\ndog NN\r\n\r\nIt PRP\r\nbarks VBZ'));
    assert.deepEqual(
      [words(c, 0), words(c, 1)],
      [
        ['The', 'dog'],
        ['It', 'barks'],
      ],
    );
    assert.deepEqual(tags(c, 1), ['PRP', 'VBZ']);
  });
});

describe('word/TAG lines', () => {
  it('splits each token at its last / (as NLTK str2tuple), one sentence per line; blank lines are counted as empty sentences', async () => {
    const c = await readCorpus(file('pos.txt', 'The/DT dog/NN ate/VBD 1/2/CD of/IN it/PRP ./.\n\n  A/DT  cat/NN \n'));
    assert.equal(c.format, 'word-tag');
    assert.deepEqual(words(c, 0), ['The', 'dog', 'ate', '1/2', 'of', 'it', '.']);
    assert.deepEqual(tags(c, 0), ['DT', 'NN', 'VBD', 'CD', 'IN', 'PRP', '.']);
    assert.deepEqual(words(c, 1), ['A', 'cat']);
    assert.equal(c.skipped.emptySentences, 1);
  });

  it('refuses a token that is not word/TAG, naming the line and the token', async () => {
    const path = file('pos.txt', 'The/DT dog/NN\nA/DT cat barks/VBZ\n');
    await assert.rejects(readCorpus(path), { message: `${path}:2: token 2, "cat", is not word/TAG (a word, a /, then its tag; the last / splits)` });
    await assert.rejects(readCorpus(file('p2.txt', 'The/DT dog/\n'), { format: 'word-tag' }), /p2\.txt:1: token 2, "dog\/", is not word\/TAG/);
  });
});

describe('any format', () => {
  it('is told by the extension, else by the first line with a word', () => {
    assert.equal(detectFormat('x.conllu', 'The DT'), 'conllu');
    assert.equal(detectFormat('x.txt', '1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_'), 'conllu');
    assert.equal(detectFormat('x.txt', 'The/DT dog/NN'), 'word-tag');
    assert.equal(detectFormat('x.txt', 'The DT B-NP'), 'conll');
    assert.equal(detectFormat('x.txt', '1/2 CD'), 'conll');
  });

  it('reports a byte that is not UTF-8 with its line, its place in the line and its offset in the file', async () => {
    const bytes = Buffer.concat([Buffer.from('The/DT dog/NN\nCaf'), Buffer.from([0xe9]), Buffer.from('/NN ./.\n')]);
    const path = file('latin1.txt', bytes);
    await assert.rejects(readCorpus(path), {
      message: `${path}:2: byte 4 of the line (0xE9, offset 17 in the file) is not UTF-8; convert the file, e.g. iconv -f latin1 -t utf-8`,
    });
    assert.equal(invalidUtf8At(Buffer.from('é ok ✓ 😀')), -1);
    assert.equal(invalidUtf8At(Uint8Array.of(0x41, 0xc0, 0x80)), 1, 'an overlong sequence');
    assert.equal(invalidUtf8At(Uint8Array.of(0xed, 0xa0, 0x80)), 0, 'a surrogate');
    assert.equal(invalidUtf8At(Uint8Array.of(0xf0, 0x9f, 0x98)), 0, 'a truncated sequence');
  });

  it('refuses a file over the size limit with the numbers, an empty file, and a folder, each in one line', async () => {
    const big = file('big.txt', 'The/DT dog/NN\n'.repeat(80_000));
    await assert.rejects(readCorpus(big, { maxBytes: 2 ** 20 }), {
      message: `--data ${big} is more than the 1 MiB seq-tag reads as a corpus; split it into smaller files`,
    });
    await assert.rejects(readCorpus(file('empty.conll', '\n\n')), /holds no tagged word/);
    await assert.rejects(readCorpus(tempDir()), /is not a regular file \(a folder\)/);
  });

  it('reads lines as a stream: a line is held only until its newline, across chunks', async () => {
    async function* chunksOf(...parts: string[]) {
      for (const p of parts) yield new TextEncoder().encode(p);
    }
    const got: string[] = [];
    for await (const l of lines(chunksOf('ab', 'c\nde', 'f\r\n', '\ng'), 16)) got.push(`${l.number}@${l.offset}:${new TextDecoder().decode(l.bytes)}`);
    assert.deepEqual(got, ['1@0:abc', '2@4:def', '3@9:', '4@10:g']);
    await assert.rejects(async () => {
      for await (const _ of lines(chunksOf('x'.repeat(20)), 16));
    }, /line 1 is longer than 16 bytes/);
  });

  it('the committed real-text fixture reads the same in word/TAG and in CoNLL columns', async () => {
    const pos = await readCorpus(join(FIXTURES, 'corpus/pos-dev.txt'));
    const conll = await readCorpus(join(FIXTURES, 'corpus/chunks-dev.conll'), { tagColumn: 2 });
    assert.equal(sentenceCount(pos), 150);
    assert.deepEqual([sentenceCount(conll), tokenCount(conll)], [sentenceCount(pos), tokenCount(pos)]);
    assert.deepEqual(words(conll, 149), words(pos, 149));
    assert.deepEqual(tags(conll, 149), tags(pos, 149));
  });
});

describe('vocabulary and ids', () => {
  it('keeps words seen --min-count times in training, most frequent first; 0 is padding, 1 <unk>; lowercasing is asked for', async () => {
    const c = await readCorpus(file('t.txt', 'the/DT dog/NN\nThe/DT cat/NN\nthe/DT dog/NN\n'));
    const v = buildVocabulary(c, { minCount: 1, lowercase: false, maxLength: 10 });
    // Ties in code-point order: dog before the, The before cat.
    assert.deepEqual(v.words, ['', '<unk>', 'dog', 'the', 'The', 'cat']);
    assert.deepEqual(v.tags, ['DT', 'NN']);
    assert.deepEqual(buildVocabulary(c, { minCount: 2, lowercase: false, maxLength: 10 }).words, ['', '<unk>', 'dog', 'the']);
    const lower = buildVocabulary(c, { minCount: 2, lowercase: true, maxLength: 10 });
    assert.deepEqual(lower.words, ['', '<unk>', 'the', 'dog']);
    const id = wordIds(lower);
    assert.deepEqual(['THE', 'dog', 'cat', '<unk>', ''].map(id), [2, 3, UNKNOWN_ID, UNKNOWN_ID, UNKNOWN_ID]);
    // Saved in the model's JSON metadata: only plain values.
    assert.deepEqual(JSON.parse(JSON.stringify(lower)), lower);
  });

  it('counts the memory of ids and tag ids (8 bytes a word, 4 a row) and of padded rows (9 a position), not one-hot rows, before allocating', async () => {
    const c = await readCorpus(file('m.txt', 'a/X b/Y c/X d/Y\nb/Y\n'));
    const v = buildVocabulary(c, { minCount: 1, lowercase: false, maxLength: 128 });
    const limits = LIMITS as { dataBytes: number };
    const saved = limits.dataBytes;
    try {
      limits.dataBytes = 5 * 8 + 3 * 4; // 5 words × 8 bytes, 3 row offsets × 4: just fits
      const { data } = encodeCorpus(c, v, '--data');
      assert.equal(data.labels.length, 5);
      limits.dataBytes = 5 * 8 + 3 * 4 - 1;
      assert.throws(() => encodeCorpus(c, v, '--data'), {
        message: /^--data \S+m\.txt would take \S+ \S+ in memory \(5 words as ids and tag ids\), more than the \S+ \S+ seq-tag holds; split the file$/,
      });
      // Padded (tf.layers' training, a validation or test file): 2 rows × 4 positions × 9 bytes.
      limits.dataBytes = 2 * 4 * 9 - 1;
      assert.throws(() => padded(data, '--validation-data'), {
        message:
          /^--validation-data \S+m\.txt would take \S+ \S+ in memory padded \(2 sentences × 4 words, the longest, as ids and tag ids\), more than the \S+ \S+ seq-tag holds; lower --max-length or split the file$/,
      });
      limits.dataBytes = 2 * 4 * 9;
      const rows = padded(data);
      assert.equal(rows.labels.length, 8);
      // One-hot rows of the whole data (tf.layers' training, the doctor): 2 × 4 × 2 tags × 4 bytes = 64.
      limits.dataBytes = 63;
      assert.throws(() => oneHotLabels(rows), {
        message:
          /^\S+m\.txt: its tags one-hot \(2 × 4 × 2\) would take \S+ \S+ in memory, more than the \S+ \S+ seq-tag holds; the fused engine \(the default for --data\) trains without them, or give a smaller file$/,
      });
      limits.dataBytes = 64;
      assert.equal(oneHotLabels(rows).length, 16);
    } finally {
      limits.dataBytes = saved;
    }
  });

  it('encodes sentences as ids padded with 0 and tag ids with −1 there; long sentences become pieces', async () => {
    const c = await readCorpus(file('t.txt', 'a/X b/Y c/X d/Y e/X\nb/Y\n'));
    const v = buildVocabulary(c, { minCount: 1, lowercase: false, maxLength: 3 });
    const { data: packed, split, unknown } = encodeCorpus(c, v, '--data');
    assert.deepEqual([packed.n, packed.steps, packed.tags, split, unknown], [3, 3, 2, 1, 0]);
    const id = wordIds(v);
    assert.deepEqual(Array.from(packed.starts), [0, 3, 5, 6], 'rows without padding: a piece of 3, a piece of 2, a sentence of 1');
    assert.deepEqual(Array.from(packed.ids), ['a', 'b', 'c', 'd', 'e', 'b'].map(id));
    assert.deepEqual(Array.from(rowLengths(packed)), [3, 2, 1]);
    const data = padded(packed);
    assert.deepEqual(Array.from(data.x), [id('a'), id('b'), id('c'), id('d'), id('e'), 0, id('b'), 0, 0]);
    assert.deepEqual(Array.from(data.labels.subarray(0, 3)), [0, 1, 0]);
    assert.deepEqual(Array.from(data.labels.subarray(5, 6)), [-1], 'padding has no tag');
    assert.deepEqual(Array.from(rowLengths(data)), [3, 2, 1], 'the same lengths read from the padding');
    // Rows 1..2 as a view (the same arrays), and padded to their own longest row.
    const view = packedRows(packed, 1, 3);
    assert.equal(view.ids, packed.ids);
    assert.deepEqual([view.n, view.steps], [2, 2]);
    const two = rowsOf(packed, 1, 3);
    assert.deepEqual([two.n, two.steps, Array.from(two.x), Array.from(two.labels)], [2, 2, [id('d'), id('e'), id('b'), 0], [1, 0, 1, -1]]);
    const raw = encodeSentences([['a', 'zzz', 'c', 'd'], []], v);
    assert.deepEqual([raw.n, raw.steps, raw.pieces], [3, 3, [2, 1]]);
    assert.deepEqual(Array.from(raw.x.subarray(0, 6)), [id('a'), UNKNOWN_ID, id('c'), id('d'), 0, 0]);
  });

  it('refuses a tag that training never saw, with the tag, its line and the training file', async () => {
    const train = await readCorpus(file('train.txt', 'a/X b/Y\n'));
    const dev = await readCorpus(file('dev.txt', 'a/X\nb/Z a/X\n'));
    const v = buildVocabulary(train, { minCount: 1, lowercase: false, maxLength: 10 });
    assert.throws(() => encodeCorpus(dev, v, '--validation-data', train.path), {
      message: `${dev.path}:2: tag "Z" (sentence 2) never occurs in the training data (${train.path}), so the model cannot output it; fix the tag or train on data that has it`,
    });
  });
});

describe('entity scores (seqeval default mode, conlleval)', () => {
  it("finds chunks as seqeval's get_entities: I- after O starts one, a change of type ends one, E- and S- close", () => {
    assert.deepEqual(chunks(['O', 'O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'O', 'B-PER', 'I-PER']), [
      ['MISC', 3, 5],
      ['PER', 7, 8],
    ]);
    assert.deepEqual(chunks(['I-ORG', 'I-ORG']), [['ORG', 0, 1]]);
    assert.deepEqual(chunks(['B-PER', 'I-LOC', 'O']), [
      ['PER', 0, 0],
      ['LOC', 1, 1],
    ]);
    assert.deepEqual(chunks(['S-PER', 'B-LOC', 'E-LOC', 'E-LOC']), [
      ['PER', 0, 0],
      ['LOC', 1, 2],
      ['LOC', 3, 3],
    ]);
    assert.ok(isChunkScheme(['O', 'B-NP', 'I-NP']));
    assert.ok(!isChunkScheme(['NN', 'DT']));
    assert.ok(!isChunkScheme(['O']));
  });

  it("gives seqeval's documented scores", () => {
    const truth = [
      ['O', 'O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'O'],
      ['B-PER', 'I-PER', 'O'],
    ];
    const predicted = [
      ['O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'I-MISC', 'O'],
      ['B-PER', 'I-PER', 'O'],
    ];
    const s = entityScores(truth, predicted);
    assert.deepEqual([s.precision, s.recall, s.f1, s.macroF1], [0.5, 0.5, 0.5, 0.5]);
    assert.deepEqual(
      s.types.map((t) => [t.type, t.f1, t.support]),
      [
        ['MISC', 0, 1],
        ['PER', 1, 1],
      ],
    );
    // test_conll_f1score: IOB1-style I-ORG I-ORG is the same chunk as B-ORG I-ORG.
    assert.equal(entityScores([['B-ORG', 'I-ORG']], [['I-ORG', 'I-ORG']]).f1, 1);
  });

  it("gives conlleval's numbers on the CoNLL-2000 example output", () => {
    const truth: string[][] = [[]];
    const predicted: string[][] = [[]];
    for (const line of readFileSync(join(FIXTURES, 'conlleval/ground_truth.txt'), 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4) {
        if (truth.at(-1)!.length) {
          truth.push([]);
          predicted.push([]);
        }
        continue;
      }
      truth.at(-1)!.push(f[2]);
      predicted.at(-1)!.push(f[3]);
    }
    const s = entityScores(truth, predicted);
    const r2 = (x: number) => Math.round(x * 10000) / 100;
    assert.deepEqual([s.support, s.predicted], [459, 539]);
    assert.deepEqual([r2(s.precision), r2(s.recall), r2(s.f1)], [68.83, 80.83, 74.35]);
    const byType = Object.fromEntries(s.types.map((t) => [t.type, [r2(t.precision), r2(t.recall), r2(t.f1), t.predicted]]));
    assert.deepEqual(byType, {
      ADJP: [0, 0, 0, 1],
      ADVP: [45.45, 62.5, 52.63, 11],
      NP: [64.98, 78.63, 71.16, 317],
      PP: [83.18, 98.89, 90.36, 107],
      SBAR: [66.67, 33.33, 44.44, 3],
      VP: [69, 79.31, 73.8, 100],
    });
  });
});

describe('tagging metrics', () => {
  it('per-tag F1, the macro F1 over tags true or predicted, and the most confused pairs', () => {
    // truth: 0 0 1 1 2 2; predicted: 0 1 1 1 0 2
    const e = evaluateTags([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 0, 2], 3, null, { tags: 4 });
    const f1 = e.perTag!.map((t) => Math.round(t.f1! * 1000) / 1000);
    assert.deepEqual(f1, [0.5, 0.8, 0.667, 0]);
    assert.equal(Math.round(e.macroF1! * 1000) / 1000, Math.round(((0.5 + 0.8 + 2 / 3) / 3) * 1000) / 1000, 'tag 3 never occurs: not averaged');
    assert.deepEqual(e.confusions, [
      { truth: 0, predicted: 1, count: 1 },
      { truth: 2, predicted: 0, count: 1 },
    ]);
  });
});

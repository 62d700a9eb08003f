/**
 * `npm run bench:memory`: the peak memory of training on a large corpus. Writes a corpus of about
 * --mb MB (default 200) by repeating the committed part-of-speech fixture (real prose tagged by
 * Lingua::EN::Tagger), trains one epoch of a small tagger on it (Embedding 16, LSTM 16, scored on the
 * fixture's test file) in a fresh process under GNU time, and prints the time, the held-out accuracy
 * and the peak resident memory. Exits 1 if the peak is 1 GiB or more (issue #34's bound).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { argValue, machineLine, table, timeCli } from './common.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/corpus/${name}`, import.meta.url));
const mb = argValue('--mb', 200);
const dir = mkdtempSync(join(tmpdir(), 'seq-tag-bench-memory-'));
try {
  const corpus = join(dir, 'corpus.txt');
  const part = readFileSync(fixture('pos-train.txt'));
  writeFileSync(corpus, '');
  for (let bytes = 0; bytes < mb * 1e6; bytes += part.length) appendFileSync(corpus, part);
  const size = statSync(corpus).size / 1e6;
  console.log(`seq-tag bench:memory · ${machineLine()} · a ${size.toFixed(1)} MB corpus (the fixture ${Math.round((size * 1e6) / part.length)} times)`);
  const run = timeCli(['train', '--data', corpus, '--test-data', fixture('pos-test.txt'), '--epochs', '1', '--units', '16', '--embedding-dim', '16']);
  if (run.status !== 0 || !run.doc) {
    console.log(`failed (exit ${run.status}): ${run.stderr.trim()}`);
    process.exitCode = 1;
  } else {
    const peak = run.maxRssMiB;
    console.log(
      table([
        ['corpus MB', 'wall s', 'train s', 'token acc', 'peak MiB'],
        [
          size.toFixed(1),
          run.wallSeconds.toFixed(1),
          run.doc.trainSeconds.toFixed(1),
          `${(100 * run.doc.evaluation.tokenAccuracy).toFixed(1)}%`,
          peak === undefined ? 'n/a (no /usr/bin/time)' : peak.toFixed(0),
        ],
      ]),
    );
    if (peak !== undefined && peak >= 1024) {
      console.log(`peak ${peak.toFixed(0)} MiB: over the 1 GiB bound`);
      process.exitCode = 1;
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

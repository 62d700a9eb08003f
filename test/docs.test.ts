/**
 * The documentation cannot go stale: the command reference is regenerated and compared, every
 * `console` example of the README and docs/ is run and its output checked, every example of
 * docs/api.md is run as a program, and every relative link points at a file that exists.
 *
 * How an example's output is checked (docs/testing.md says the same): both texts are compared word
 * by word (so line wrapping does not matter); a line `…` in the shown output stands for any number
 * of words; a number must be within 1% (or 0.002) of the one shown, except a duration (a number
 * followed by `s`, `ms` or `MiB`), which may be anything.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { commandReference } from '../src/cli/reference.js';
import { seqTag, tempDir } from './helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const read = (page: string) => readFileSync(join(ROOT, page), 'utf8');

interface Block {
  lang: string;
  body: string;
  line: number;
}

/** The fenced code blocks of a markdown page. */
export function blocksOf(markdown: string): Block[] {
  const blocks: Block[] = [];
  const re = /^```(\w*)\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) {
    blocks.push({ lang: m[1], body: m[2], line: markdown.slice(0, m.index).split('\n').length });
  }
  return blocks;
}

const NUMBER = /^[-+−]?\d[\d,]*(\.\d+)?(e[-+]?\d+)?$/i;
const DURATION_UNITS = new Set(['s', 'ms', 'MiB', 's;', 's,', 's)']);

/** A word split into its text and its numbers: "0.5011," → ["", ","] and [0.5011]. */
function pieces(word: string): { skeleton: string; numbers: number[] } {
  const numbers: number[] = [];
  const skeleton = word.replace(/[-−]?\d[\d,]*(\.\d+)?(e[-+]?\d+)?(?![\d])/gi, (n) => {
    const clean = n.replace(/,(?=\d{3})/g, '').replace('−', '-');
    if (!NUMBER.test(n) && Number.isNaN(Number(clean))) return n;
    numbers.push(Number(clean));
    return '#';
  });
  return { skeleton, numbers };
}

function sameWord(shown: string, actual: string, next: string | undefined): boolean {
  if (shown === actual) return true;
  const a = pieces(shown);
  const b = pieces(actual);
  if (a.skeleton !== b.skeleton || a.numbers.length !== b.numbers.length || a.numbers.length === 0) return false;
  if (next !== undefined && DURATION_UNITS.has(next)) return true;
  return a.numbers.every((x, k) => Math.abs(x - b.numbers[k]) <= Math.max(0.002, 0.01 * Math.abs(x)));
}

/**
 * Whether `actual` shows what `shown` shows (see the file's comment). Returns the first shown word
 * that could not be matched, or undefined when all matched.
 */
export function mismatch(shown: string, actual: string): string | undefined {
  const s = shown.split(/\s+/).filter(Boolean);
  const a = actual.split(/\s+/).filter(Boolean);
  // memo[i][j]: shown from i matches actual from j.
  const memo = new Map<number, boolean>();
  let deepest = 0;
  const match = (i: number, j: number): boolean => {
    const key = i * (a.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    deepest = Math.max(deepest, i);
    let ok: boolean;
    if (i === s.length) ok = j === a.length;
    else if (s[i] === '…') ok = match(i + 1, j) || (j < a.length && match(i, j + 1));
    else ok = j < a.length && sameWord(s[i], a[j], a[j + 1]) && match(i + 1, j + 1);
    memo.set(key, ok);
    return ok;
  };
  return match(0, 0) ? undefined : s.slice(deepest, deepest + 12).join(' ') || '(the end: the actual output goes on)';
}

/** A console block: `$ seq-tag …` commands, each followed by the output it shows. */
function examplesOf(block: Block): { command: string; shown: string }[] {
  const out: { command: string; shown: string }[] = [];
  for (const line of block.body.split('\n')) {
    if (line.startsWith('$ ')) out.push({ command: line.slice(2), shown: '' });
    else if (out.length) out[out.length - 1].shown += `${line}\n`;
  }
  return out;
}

describe('figures stated twice agree (issue #32)', () => {
  it("sweep --answers: the README's time and memory are docs/findings.md's", () => {
    const readme = /`sweep --answers`[^(]*\(100 runs, ([\d.]+) s and (\d+) MiB max RSS[^)]*, (\d{4}-\d\d-\d\d)/.exec(read('README.md').replace(/\n/g, ' '));
    const findings =
      /Measured (\d{4}-\d\d-\d\d) \(wasm backend, fused engine in float32, 100 runs, ([\d.]+) s wall on 2 cores, median of 3 runs; (\d+) MiB max RSS/.exec(
        read('docs/findings.md').replace(/\n/g, ' '),
      );
    assert.ok(readme && findings, 'both pages state the figures');
    assert.deepEqual([readme[1], readme[2], readme[3]], [findings[2], findings[3], findings[1]]);
  });
});

describe('the command reference', () => {
  it('docs/commands.md is what `npm run docs` generates from the flag table and commander', () => {
    assert.equal(read('docs/commands.md'), commandReference(), 'docs/commands.md is stale: run npm run docs and commit it');
  });
});

describe('the matching rule', () => {
  it('ignores wrapping and durations, holds numbers to 1%, and … stands for any words', () => {
    assert.equal(mismatch('loss 0.5011 in 0.22 s', 'loss\n0.5012 in 9.1 s'), undefined);
    assert.match(mismatch('loss 0.5011', 'loss 0.6011') ?? '', /0\.5011/);
    assert.equal(mismatch('a … d', 'a b c d'), undefined);
    assert.notEqual(mismatch('a b', 'a b c'), undefined, 'output the page does not show is a difference');
    assert.notEqual(mismatch('exact-match 98.6%', 'exact-match 97.1%'), undefined);
    assert.equal(mismatch('1,186 params', '1,186 params'), undefined);
  });
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');
}

describe('links', () => {
  it('anchors are made as GitHub makes them', () => {
    assert.equal(anchorOf('Does the fix learn?'), 'does-the-fix-learn');
    assert.equal(anchorOf('Bring your own Keras model … and your own data'), 'bring-your-own-keras-model--and-your-own-data');
    assert.equal(anchorOf('`seq-tag export`'), 'seq-tag-export');
  });
  for (const page of PAGES) {
    it(`${page}: every relative link points at a file that exists, and at a heading it has`, () => {
      for (const [, target, anchor] of read(page).matchAll(/\]\(([^)#\s]*)(?:#([^)\s]*))?\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        const file = target === '' ? join(ROOT, page) : resolve(ROOT, dirname(page), target);
        assert.ok(existsSync(file), `${page} links to ${target}, which does not exist`);
        if (!anchor || !file.endsWith('.md')) continue;
        const headings = [...readFileSync(file, 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => anchorOf(m[1]));
        assert.ok(headings.includes(anchor), `${page} links to ${target || page}#${anchor}, which has no such heading`);
      }
    });
  }
});

describe('every console example runs and shows what the page says', () => {
  for (const page of PAGES) {
    const blocks = blocksOf(read(page)).filter((b) => b.lang === 'console');
    if (!blocks.length) continue;
    it(page, async () => {
      // One folder per page: its examples build on each other (train, then predict).
      const dir = tempDir('seq-tag-docs-');
      // The Keras page's examples read the committed fixtures by their path in the repository.
      symlinkSync(join(ROOT, 'test'), join(dir, 'test'));
      for (const block of blocks) {
        for (const { command, shown } of examplesOf(block)) {
          assert.match(command, /^seq-tag /, `${page}:${block.line}: a console example runs seq-tag: ${command}`);
          // Run in this process, as `seq-tag … 2>&1` prints it in a terminal 80 columns wide; words only, no shell.
          assert.doesNotMatch(command, /[|&;<>$`'"\\]/, `${page}:${block.line}: an example is a plain command line: ${command}`);
          const run = await seqTag(command.split(/\s+/).slice(1), { COLUMNS: '80' }, { cwd: dir, mergeStderr: true });
          const wrong = mismatch(shown, run.stdout);
          assert.equal(wrong, undefined, `${page}:${block.line}: \`${command}\` differs from the page at: ${wrong}\n--- it printed:\n${run.stdout}`);
        }
      }
      rmSync(dir, { recursive: true, force: true });
    });
  }
});

describe('the JavaScript examples (README.md and docs/api.md)', () => {
  for (const page of ['README.md', 'docs/api.md']) {
    it(`${page}: each runs in plain Node with \`import … from 'seq-tag'\` and prints what is shown under it`, () => {
      const blocks = blocksOf(read(page));
      // Inside the package, so that 'seq-tag' resolves to it through its exports map (self-reference).
      const dir = join(ROOT, 'dist', `js-examples-${process.pid}-${page.replace(/\W/g, '-')}`);
      mkdirSync(dir, { recursive: true });
      try {
        const programs = blocks.flatMap((b, k) => (b.lang === 'js' ? [{ code: b, shown: blocks[k + 1]?.lang === 'text' ? blocks[k + 1] : undefined }] : []));
        assert.ok(programs.length >= 1, 'the page has its examples');
        programs.forEach(({ code, shown }, k) => {
          const file = join(dir, `example-${k}.mjs`);
          writeFileSync(file, code.body);
          const printed = execFileSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
          const wrong = shown && mismatch(shown.body, printed);
          assert.equal(wrong, undefined, `${page}:${code.line}: differs at: ${wrong}\n--- it printed:\n${printed}`);
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

/**
 * Issue #33: imports run one way, down the rooms docs/architecture.md lists. This test reads every
 * `import … from './…'` of src/ and fails on one that runs back up (a lower room importing a higher
 * one), on a peer import between rooms of one level, and on any file outside src/cli/ that imports
 * src/cli/. A new room must be placed in ROOMS (and on the page) before it can be imported.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');

/** Top to bottom, as docs/architecture.md lists them; a room may import only rooms below it. */
export const ROOMS = [
  ['cli', 'index'],
  ['report'],
  ['tune'],
  ['sweep'],
  ['diagnosis'],
  ['training'],
  ['task'],
  ['model'],
  ['storage'],
  ['config'],
  ['shared', 'errors', 'version', 'types'],
];

const levelOf = (room: string) => ROOMS.findIndex((level) => level.includes(room));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : name.endsWith('.ts') ? [path] : [];
  });
}

/** The room of a file under src/: its first folder, or its name for a file at the top (index, errors, version). */
const roomOf = (file: string) => relative(SRC, file).split(sep)[0].replace(/\.ts$/, '');

/** Every import between two rooms: [importing file, imported file], relative to src/. */
export function crossings(
  files = sources(SRC),
  read = (file: string) => readFileSync(file, 'utf8'),
): { from: string; to: string; fromRoom: string; toRoom: string }[] {
  return files.flatMap((file) =>
    [...read(file).matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)]
      .map((m) => normalize(join(dirname(file), `${m[1]}.ts`)))
      .filter((target) => roomOf(target) !== roomOf(file))
      .map((target) => ({ from: relative(SRC, file), to: relative(SRC, target), fromRoom: roomOf(file), toRoom: roomOf(target) })),
  );
}

describe('imports run one way (docs/architecture.md)', () => {
  const all = crossings();

  it('every room of src/ is on the page and in ROOMS', () => {
    const rooms = new Set(sources(SRC).map(roomOf));
    for (const room of rooms) assert.ok(levelOf(room) >= 0, `src/${room} is in no room of docs/architecture.md`);
    const page = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
    for (const room of rooms) assert.match(page, new RegExp(`\`${room}\``), `docs/architecture.md names ${room}`);
    assert.ok(page.split('\n').length <= 80, 'the page stays at most 80 lines');
  });

  it('no file outside src/cli/ imports src/cli/', () => {
    const intoCli = all.filter((c) => c.toRoom === 'cli');
    assert.deepEqual(
      intoCli.map((c) => `${c.from} → ${c.to}`),
      [],
    );
  });

  /** The crossings that break the rule: up, or sideways (index may import any room but cli). */
  const wrongOf = (list: typeof all) => list.filter((c) => levelOf(c.fromRoom) >= levelOf(c.toRoom) && !(c.fromRoom === 'index' && c.toRoom !== 'cli'));

  it('no import runs up, or sideways between rooms of one level', () => {
    assert.deepEqual(
      wrongOf(all).map((c) => `${c.from} → ${c.to}`),
      [],
    );
  });

  it('the check can fail: an import planted back up, or into the CLI, is caught', () => {
    const file = join(SRC, 'storage', 'files.ts');
    const planted = (line: string) => crossings([file], (f) => `${readFileSync(f, 'utf8')}\n${line}\n`);
    assert.deepEqual(
      wrongOf(planted("import { layersEngine } from '../training/train.js';")).map((c) => c.to),
      [join('training', 'train.ts')],
    );
    assert.deepEqual(
      planted("import { HYPERPARAMETERS } from '../cli/flags.js';")
        .filter((c) => c.toRoom === 'cli')
        .map((c) => c.from),
      [join('storage', 'files.ts')],
    );
  });

  it("only run.ts, main.ts and output.ts touch the process's streams, environment and exit code (commands run in-process too)", () => {
    const allowed = new Set(['cli/run.ts', 'cli/main.ts', 'cli/output.ts'].map((f) => join(...f.split('/'))));
    const touching = sources(SRC)
      .map((f) => relative(SRC, f))
      .filter((f) => !allowed.has(f))
      .filter((f) => /\bprocess\.(stdout|stderr|stdin|exitCode|env)\b/.test(readFileSync(join(SRC, f), 'utf8').replace(/^\s*(\/\/|\*).*$/gm, '')));
    // The library's defaults (render.ts and wrap.ts read process.env when no environment is given) are the exceptions named here.
    assert.deepEqual(touching.sort(), [join('report', 'render.ts'), join('report', 'wrap.ts')]);
  });
});

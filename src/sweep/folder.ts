// A sweep's --out folder: claimed like a model folder (new, empty, or the same sweep's), locked so
// that one process appends to it, and read back only as whole, checked records.
import { readdir, readFile, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { configSchema } from '../config/hyperparameters.js';
import type { Config } from '../config/config.js';
import { describeFsError, ExitCode, UserError } from '../errors.js';
import { appendLine, makeFolder, removeOrphanTemps, writeFileAtomic } from '../storage/files.js';
import { LEGACY_WRITER_FILE, LOCK_FILE, lockFolder, type FolderLock } from '../storage/lock.js';
import { tempOwner } from '../storage/owner.js';
import { VERSION } from '../version.js';
import { parseRecordLine, recordLine, type RunRecord } from './records.js';

export const RESULTS_FILE = 'results.jsonl';
/** The sweep's identity: which configurations it runs. Written first; a folder without it is not a sweep's. */
export const MANIFEST_FILE = 'sweep.json';
export const SUMMARY_FILE = 'summary.json';
export const CHART_FILE = 'loss-curves.svg';
/** Lines of results.jsonl that are not whole records, or repeat a run, moved here so that the next run does not trip on them again. */
export const REJECTED_FILE = 'results.rejected.jsonl';

export interface LabelledConfig {
  label: string;
  config: Omit<Config, 'seed'>;
}

const manifestSchema = z.object({
  kind: z.literal('seq-tag sweep'),
  seqTagVersion: z.string(),
  configurations: z.array(z.object({ label: z.string(), config: configSchema.omit({ seed: true }) }).strict()).min(1),
});

const TEMP_BASES = [RESULTS_FILE, MANIFEST_FILE, SUMMARY_FILE, CHART_FILE, REJECTED_FILE, LOCK_FILE, `${LOCK_FILE}-stale`];
const isOwnFile = (name: string) => name === LOCK_FILE || name === LEGACY_WRITER_FILE || TEMP_BASES.some((base) => tempOwner(base, name));

/** How two grids differ, in words, or undefined when they are the same configurations. */
export function gridDifference(there: LabelledConfig[], here: LabelledConfig[]): string | undefined {
  const theirs = new Map(there.map((c) => [c.label, c.config]));
  for (const { label, config } of here) {
    const other = theirs.get(label);
    if (!other) continue;
    const key = (Object.keys(config) as (keyof typeof config)[]).find((k) => JSON.stringify(config[k]) !== JSON.stringify(other[k]));
    if (key) return `'${label}' has ${key} ${JSON.stringify(other[key])} there and ${JSON.stringify(config[key])} here`;
  }
  const added = here.filter((c) => !theirs.has(c.label)).map((c) => `'${c.label}'`);
  const mine = new Set(here.map((c) => c.label));
  const missing = there.filter((c) => !mine.has(c.label)).map((c) => `'${c.label}'`);
  const list = (names: string[]) => (names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', '));
  if (added.length) return `this grid has ${list(added)}, which that sweep does not`;
  if (missing.length) return `that sweep has ${list(missing)}, which this grid does not`;
  return undefined;
}

/** What results.jsonl held: the records by key, and what was wrong with the rest. */
export interface StoredRecords {
  records: Map<string, RunRecord>;
  /** A half-written last line (a crash mid-append by an older seq-tag): removed, its run done again. */
  tornTail: boolean;
  /** Lines that were not whole records, or a second record of a run, by line number: moved to results.rejected.jsonl. */
  rejected: { line: number; why: string }[];
}

/** A claimed sweep folder. Every write first checks that this process still holds the folder's lock. */
export class SweepFolder {
  private constructor(
    readonly shown: string,
    readonly dir: string,
    private readonly lock: FolderLock,
  ) {}

  get resultsPath(): string {
    return join(this.shown, RESULTS_FILE);
  }

  path(name: string): string {
    return join(this.shown, name);
  }

  /**
   * Claims `shown` for the sweep of `configurations`: a new or empty folder, or one this same grid's
   * sweep wrote (its sweep.json says so). Anything else is refused in one line, and nothing in it changes.
   */
  static async open(shown: string, configurations: LabelledConfig[]): Promise<SweepFolder> {
    if (shown.trim() === '') throw new UserError('--out is empty; give a folder path, e.g. --out ./sweep-results', ExitCode.Usage);
    const dir = resolve(shown);
    const created = await makeFolder(dir, '--out');
    let lock: FolderLock | undefined;
    try {
      lock = await lockFolder(dir, shown, '--out');
      await removeOrphanTemps(dir, TEMP_BASES);
      const folder = new SweepFolder(shown, dir, lock);
      await folder.claim(configurations);
      return folder;
    } catch (err) {
      await lock?.release();
      if (created) await rmdir(dir).catch(() => {});
      throw err;
    }
  }

  private async claim(configurations: LabelledConfig[]): Promise<void> {
    const entries = await readdir(this.dir).catch((err) => {
      throw new UserError(`cannot read --out ${this.shown}: ${describeFsError(err)}; choose a readable folder`);
    });
    const refuse = (why: string) => new UserError(`--out ${this.shown} ${why}`);
    if (!entries.includes(MANIFEST_FILE)) {
      const foreign = entries.filter((name) => !isOwnFile(name));
      if (foreign.length) {
        const names = `${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}`;
        const older = foreign.includes(RESULTS_FILE) ? ` (a ${RESULTS_FILE} without ${MANIFEST_FILE}: another tool's, or a seq-tag before 0.2's)` : '';
        throw refuse(`holds files no seq-tag sweep wrote: ${names}${older}; seq-tag will not touch them: choose a new or empty folder`);
      }
      const manifest = { kind: 'seq-tag sweep', seqTagVersion: VERSION, createdAt: new Date().toISOString(), configurations };
      await this.write(MANIFEST_FILE, `${JSON.stringify(manifest, null, 2)}\n`);
      return;
    }
    const text = await readFile(join(this.dir, MANIFEST_FILE), 'utf8').catch(() => '');
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
    const parsed = manifestSchema.safeParse(data);
    if (!parsed.success) throw refuse(`holds a ${MANIFEST_FILE} that is not a seq-tag sweep's; seq-tag will not touch the folder: choose another --out`);
    const difference = gridDifference(parsed.data.configurations as unknown as LabelledConfig[], configurations);
    if (difference) throw refuse(`holds another sweep: ${difference}; choose another --out, or resume it with the grid it was made with`);
  }

  /** Reads results.jsonl: whole, checked records by key. A torn last line is cut off; bad or repeated lines move to results.rejected.jsonl. */
  async readRecords(): Promise<StoredRecords> {
    const file = join(this.dir, RESULTS_FILE);
    const stored: StoredRecords = { records: new Map(), tornTail: false, rejected: [] };
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw new UserError(`cannot read ${this.resultsPath}: ${describeFsError(err)}`);
    });
    const lines = text.split('\n');
    // No newline at the end: the last append did not finish (seq-tag's appends are whole lines; an older one's may not be).
    stored.tornTail = lines.pop() !== '';
    const kept: string[] = [];
    const rejected: string[] = [];
    lines.forEach((line, k) => {
      if (!line.trim()) return;
      try {
        const record = parseRecordLine(line);
        if (stored.records.has(record.key)) throw new Error(`a second record of run ${record.label} · seed ${record.seed}`);
        if (record.status !== 'failed') stored.records.set(record.key, record);
        kept.push(line);
      } catch (err) {
        stored.rejected.push({ line: k + 1, why: (err as Error).message });
        rejected.push(line);
      }
    });
    if (stored.tornTail || rejected.length) {
      if (rejected.length) await this.append(REJECTED_FILE, rejected.map((l) => `${l}\n`).join(''));
      await this.write(RESULTS_FILE, kept.map((l) => `${l}\n`).join(''));
    }
    return stored;
  }

  /** Appends one record as one whole, fsynced line, if this process still holds the folder. */
  async appendRecord(record: RunRecord): Promise<void> {
    await this.append(RESULTS_FILE, recordLine(record));
  }

  private async append(name: string, text: string): Promise<void> {
    await this.lock.check();
    await appendLine(join(this.dir, name), text);
  }

  /** Replaces one of the sweep's files whole (write aside, fsync, rename), if this process still holds the folder. */
  async write(name: string, data: string): Promise<void> {
    await this.lock.check();
    await writeFileAtomic(join(this.dir, name), data);
  }

  async release(): Promise<void> {
    await this.lock.release();
  }
}

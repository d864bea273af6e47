/**
 * The rows this process wrote last, as it wrote them: runs' state and their tasks. A completion of
 * a task this process holds (an activity it took eagerly, say) reads exactly what it wrote in its
 * previous commit, unless another process changed the rows since. So its batch need not wait a
 * round trip for them: it takes them from here, and one statement sent with BEGIN locks the rows
 * and checks that they are still these (`keel_expect_rows`, migration 0003), failing the
 * transaction if not; the batch's units then run alone, reading the database.
 */
import { runOfTaskKey } from '../../state/tasks.ts';
import type { TaskRow } from '../rows.ts';
import type { RowsWritten } from './pending-writes.ts';

/** Runs remembered at most, and their text's length in all; the least recently written go first. */
const MAX_RUNS = 10_000;
const MAX_CHARACTERS = 16 * 1024 * 1024;
/** What a remembered row costs beyond its text, in characters (a guess at the objects' size). */
const ROW_OVERHEAD = 100;

interface KnownRun {
  state: string;
  tasks: Map<string, TaskRow>;
  /** The length of its id, state, tasks' keys and data, and `ROW_OVERHEAD` per row. */
  characters: number;
}

export class KnownRows {
  /** Run id → its state JSON as written, with its tasks by key. Insertion order is recency. */
  private readonly runs = new Map<string, KnownRun>();
  private characters = 0;

  /** The run's state and the task as this process last wrote them, if it knows both. */
  lookup(runId: string, taskKey: string): { state: string; task: TaskRow } | undefined {
    const run = this.runs.get(runId);
    const task = run?.tasks.get(taskKey);
    return run && task ? { state: run.state, task } : undefined;
  }

  /** The writes of a committed transaction, in the order they were sent. */
  learn(flushes: RowsWritten[]): void {
    for (const written of flushes) {
      for (const runId of written.deletedRuns) {
        const run = this.runs.get(runId);
        if (!run) continue;
        for (const task of run.tasks.values()) this.count(run, -taskCharacters(task));
        run.tasks.clear();
      }
      for (const [runId, state] of written.runs) {
        const known = this.remove(runId);
        if (state === null) continue; // closed: nothing more to complete
        const run: KnownRun = { state, tasks: new Map(), characters: 0 };
        this.runs.set(runId, run);
        this.count(run, runId.length + state.length + ROW_OVERHEAD);
        for (const [key, task] of known?.tasks ?? []) this.setTask(run, key, task);
      }
      for (const [key, row] of written.tasks) {
        const runId = runOfTaskKey(key);
        const run = this.runs.get(runId);
        if (!run) continue; // a task of a run whose state this process does not know
        if (row) this.setTask(run, key, row);
        else {
          const task = run.tasks.get(key);
          if (task) this.count(run, -taskCharacters(task));
          run.tasks.delete(key);
        }
        this.runs.delete(runId); // re-inserted last: the most recently written
        this.runs.set(runId, run);
      }
    }
    for (const runId of this.runs.keys()) {
      if (this.runs.size <= MAX_RUNS && this.characters <= MAX_CHARACTERS) break;
      this.remove(runId);
    }
  }

  /** What this process knew of these runs may be out of date (a failed or undone transaction). */
  forget(runIds: Iterable<string>): void {
    for (const runId of runIds) this.remove(runId);
  }

  private setTask(run: KnownRun, key: string, task: TaskRow): void {
    const before = run.tasks.get(key);
    if (before) this.count(run, -taskCharacters(before));
    run.tasks.set(key, task);
    this.count(run, taskCharacters(task));
  }

  private count(run: KnownRun, characters: number): void {
    run.characters += characters;
    this.characters += characters;
  }

  private remove(runId: string): KnownRun | undefined {
    const run = this.runs.get(runId);
    if (run) {
      this.runs.delete(runId);
      this.characters -= run.characters;
    }
    return run;
  }

  get size(): number {
    return this.runs.size;
  }

  /** The length of the remembered rows' text, in all. */
  get totalCharacters(): number {
    return this.characters;
  }
}

function taskCharacters(task: TaskRow): number {
  return task.key.length + task.data.length + ROW_OVERHEAD;
}

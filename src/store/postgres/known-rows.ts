/**
 * The rows this process wrote last, as it wrote them: runs' state and their tasks. A completion of
 * a task this process holds (an activity it took eagerly, say) reads exactly what it wrote in its
 * previous commit, unless another process changed the rows since. So its batch need not wait a
 * round trip for them: it takes them from here, and one statement sent with BEGIN locks the rows
 * and checks that they are still these (`keel_expect_rows`, migration 0003), failing the
 * transaction if not; the batch's units then run alone, reading the database.
 */
import type { TaskRow } from '../rows.ts';
import type { RowsWritten } from './pending-writes.ts';

/** Runs remembered at most, and their text's length in all; the least recently written go first. */
const MAX_RUNS = 10_000;
const MAX_CHARACTERS = 16 * 1024 * 1024;

interface KnownRun {
  state: string;
  tasks: Map<string, TaskRow>;
  /** The length of its state and of its tasks' data. */
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
      const changed = new Set<string>();
      for (const runId of written.deletedRuns) {
        this.runs.get(runId)?.tasks.clear();
        changed.add(runId);
      }
      for (const [runId, state] of written.runs) {
        const known = this.remove(runId); // re-inserted last: the most recent
        if (state === null) continue; // closed: nothing more to complete
        const run = { state, tasks: known?.tasks ?? new Map<string, TaskRow>(), characters: 0 };
        this.runs.set(runId, run);
        changed.add(runId);
      }
      for (const [key, row] of written.tasks) {
        const runId = runOfTaskKey(key);
        const run = this.runs.get(runId);
        if (!run) continue; // a task of a run whose state this process does not know
        if (row) run.tasks.set(key, row);
        else run.tasks.delete(key);
        changed.add(runId);
      }
      for (const runId of changed) {
        const run = this.runs.get(runId);
        if (run) this.recount(run);
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

  private remove(runId: string): KnownRun | undefined {
    const run = this.runs.get(runId);
    if (run) {
      this.runs.delete(runId);
      this.characters -= run.characters;
    }
    return run;
  }

  private recount(run: KnownRun): void {
    let characters = run.state.length;
    for (const task of run.tasks.values()) characters += task.data.length;
    this.characters += characters - run.characters;
    run.characters = characters;
  }

  get size(): number {
    return this.runs.size;
  }

  /** The length of the remembered rows' text, in all. */
  get totalCharacters(): number {
    return this.characters;
  }
}

/** The run a task belongs to: task keys begin with the run id and a slash (`taskKey` in src/state/tasks.ts). */
export function runOfTaskKey(key: string): string {
  return key.slice(0, key.indexOf('/'));
}

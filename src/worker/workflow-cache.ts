import type { WorkflowRunner } from '../runtime/workflow-runner.ts';

/**
 * Live workflow runs kept in memory, least recently used evicted first, so that the next task of a
 * cached run continues where it stopped instead of replaying its history.
 */
export class WorkflowCache {
  private readonly runs = new Map<string, WorkflowRunner>();

  constructor(readonly capacity: number) {}

  get(runId: string): WorkflowRunner | undefined {
    return this.runs.get(runId);
  }

  /** Inserts or refreshes `runner` as the most recently used. */
  put(runId: string, runner: WorkflowRunner): void {
    if (this.capacity <= 0) return;
    this.runs.delete(runId);
    this.runs.set(runId, runner);
    while (this.runs.size > this.capacity) this.runs.delete(this.runs.keys().next().value!);
  }

  delete(runId: string): void {
    this.runs.delete(runId);
  }

  /** Ids of the cached runs. */
  runIds(): IterableIterator<string> {
    return this.runs.keys();
  }

  get size(): number {
    return this.runs.size;
  }
}

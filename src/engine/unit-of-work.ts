/**
 * The runs one store transaction touches. An operation on one run may affect others (a child to
 * start, a parent to notify, a signal to deliver, the next run of a chain); all of them are loaded,
 * changed and written in the same transaction, so a crash never leaves half of such a step done.
 */
import { WorkflowNotFoundError } from '../common/errors.ts';
import { isRunning, latestEventTime, type ExecutionState } from '../state/execution-state.ts';
import { Mutation } from '../state/mutation.ts';
import type { SearchAttributeType } from '../state/search-attributes.ts';
import type { TaskRecord } from '../state/tasks.ts';
import type { StoreTransaction } from '../store/store.ts';

export class UnitOfWork {
  private readonly loaded = new Map<string, Mutation>();
  /** Runs created in this transaction, inserted after the updates (a chain's old run closes first). */
  private readonly created: Mutation[] = [];
  /**
   * Runs `tryLoad` found held by another transaction. They stay skipped for the rest of this one:
   * had the lock gone meanwhile, a later task of the run (a later timer, say) would act before the
   * earlier one that was skipped.
   */
  private readonly skippedAsLocked = new Set<string>();

  #now: number;

  constructor(
    readonly tx: StoreTransaction,
    now: number,
    private readonly location: string,
  ) {
    this.#now = now;
  }

  /** The transaction's time (epoch ms): when it began, or the latest event of a run it read, if later. */
  get now(): number {
    return this.#now;
  }

  /** The run's mutation, loaded once per transaction. */
  async load(runId: string): Promise<Mutation | undefined> {
    const cached = this.loaded.get(runId);
    if (cached) return cached;
    const state = await this.tx.getExecution(runId);
    if (!state) return undefined;
    const m = this.mutation(state);
    this.loaded.set(runId, m);
    return m;
  }

  /** Like `load`, but `'locked'` if another transaction holds the run (see `StoreTransaction.tryGetExecution`). */
  async tryLoad(runId: string): Promise<Mutation | 'locked' | undefined> {
    return this.known(runId) ?? this.adopt(runId, await this.tx.tryGetExecution(runId));
  }

  /**
   * `tryLoad` with the store's answer at hand: what `tryGetExecution` would give, read by the caller
   * with something else (`readyWorkflowTasks`).
   */
  adopt(
    runId: string,
    read: ExecutionState | 'locked' | undefined,
  ): Mutation | 'locked' | undefined {
    const known = this.known(runId);
    if (known) return known;
    if (read === 'locked') this.skippedAsLocked.add(runId);
    if (read === undefined || read === 'locked') return read;
    const m = this.mutation(read);
    this.loaded.set(runId, m);
    return m;
  }

  /**
   * The run's mutation. A transaction reads what others committed after it took its time (a claim
   * finds a run started since, a signal waited for the run's lock), or what a process whose clock
   * runs ahead wrote: its time moves up to the run's latest event, so that nothing it writes (the
   * run's events, the run it continues as) predates it, and workflow time never goes back.
   */
  private mutation(state: ExecutionState): Mutation {
    this.#now = Math.max(this.#now, latestEventTime(state));
    return new Mutation(state, this.#now);
  }

  /** What this transaction has of the run already: skipped as locked, or loaded. */
  private known(runId: string): Mutation | 'locked' | undefined {
    if (this.skippedAsLocked.has(runId)) return 'locked';
    return this.loaded.get(runId);
  }

  async require(runId: string): Promise<Mutation> {
    const m = await this.load(runId);
    if (!m)
      throw new WorkflowNotFoundError(`No workflow run '${runId}' in ${this.location}.`, '', runId);
    return m;
  }

  /** `require` and the run's task `taskKey` (held for update too), read together. */
  async requireWithTask(
    runId: string,
    taskKey: string,
  ): Promise<{ m: Mutation; task: TaskRecord | undefined }> {
    if (this.loaded.has(runId))
      return { m: this.loaded.get(runId)!, task: await this.tx.getTask(taskKey) };
    const { state, task } = await this.tx.getExecutionAndTask(runId, taskKey);
    if (!state)
      throw new WorkflowNotFoundError(`No workflow run '${runId}' in ${this.location}.`, '', runId);
    const m = this.mutation(state);
    this.loaded.set(runId, m);
    return { m, task };
  }

  /** The running run of `workflowId` as this transaction sees it (including runs it started or closed). */
  async running(workflowId: string): Promise<Mutation | undefined> {
    for (const m of this.loaded.values()) {
      if (m.state.workflowId === workflowId && isRunning(m.state)) return m;
    }
    const runId = await this.tx.getRunningRunId(workflowId);
    if (!runId) return undefined;
    const m = await this.load(runId);
    return m && isRunning(m.state) ? m : undefined;
  }

  /** The given run, or the latest run of `workflowId`. */
  async find(workflowId: string, runId: string | undefined): Promise<Mutation | undefined> {
    if (runId) {
      const m = await this.load(runId);
      return m && m.state.workflowId === workflowId ? m : undefined;
    }
    const running = await this.running(workflowId);
    if (running) return running;
    const latest = await this.tx.getLatestRunId(workflowId);
    return latest ? this.load(latest) : undefined;
  }

  create(m: Mutation): void {
    this.loaded.set(m.state.runId, m);
    this.created.push(m);
  }

  /** Every run touched, for effects processing. */
  get runs(): Iterable<Mutation> {
    return this.loaded.values();
  }

  /** Writes every touched run: updates of existing runs first, then the runs created. */
  async persist(): Promise<void> {
    const created = new Set(this.created);
    const types: Record<string, SearchAttributeType> = {};
    for (const m of this.loaded.values()) {
      if (!m.searchAttributesChanged) continue;
      for (const [name, value] of Object.entries(m.state.searchAttributes ?? {}))
        types[name] = value.type;
    }
    if (Object.keys(types).length > 0) {
      const conflict = await this.tx.registerSearchAttributeTypes(types);
      if (conflict) throw new TypeError(conflict);
    }
    for (const m of this.loaded.values()) {
      if (created.has(m)) continue;
      if (m.events.length > 0) await this.tx.appendEvents(m.state.runId, m.events);
      await this.tx.updateExecution(m.state);
      if (m.tasks.length > 0) await this.tx.applyTaskChanges(m.tasks);
      if (m.searchAttributesChanged)
        await this.tx.replaceSearchAttributes(m.state.runId, m.state.searchAttributes ?? {});
    }
    for (const m of this.created) {
      await this.tx.insertExecution(m.state);
      await this.tx.appendEvents(m.state.runId, m.events);
      await this.tx.applyTaskChanges(m.tasks);
      if (m.searchAttributesChanged)
        await this.tx.replaceSearchAttributes(m.state.runId, m.state.searchAttributes ?? {});
    }
  }
}

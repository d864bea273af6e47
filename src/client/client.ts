import { hostname } from 'node:os';
import { crashPoint } from '../common/crash-points.ts';
import { optionalMs, toMs, type Duration } from '../common/duration.ts';
import { assertPayload, assertWellFormedText } from '../common/payload.ts';
import { compileRetryPolicy } from '../common/retry-policy.ts';
import { Engine, type StartOptions } from '../engine/engine.ts';
import type { SignalDefinition } from '../runtime/definitions.ts';
import { validateSearchAttributeValues } from '../state/search-attributes.ts';
import { openStore } from '../store/open-store.ts';
import type { ExecutionSummary, Store } from '../store/store.ts';
import type { Workflow, WorkflowResultType, WorkflowStartOptions } from './types.ts';
import { WorkflowHandle } from './workflow-handle.ts';
import { HintLog } from './hint-log.ts';

export interface ClientOptions {
  /** An open store (shared with a worker in the same process, say). Give this or `connection`. */
  store?: Store;
  /**
   * A SQLite file path or a `postgres://` URL: the client opens a store of its own, and
   * `client.close()` closes it. On PostgreSQL that store hears only of runs (closed, updated,
   * queries answered), not of tasks becoming ready.
   */
  connection?: string;
  /** Names this client in the history. @defaultValue `pid@hostname` */
  identity?: string;
  /** How long `handle.query()` waits for a worker's answer. @defaultValue '10s' */
  queryTimeout?: Duration;
  /** @internal called when a `result()` starts waiting; returns the function to call when it stops */
  onResultWait?: () => () => void;
}

/**
 * Starts workflows and gets handles to them.
 *
 * @example
 * const client = new Client({ connection: './keel.db' });
 * const handle = await client.workflow.start(orderWorkflow, {
 *   taskQueue: 'orders',
 *   workflowId: 'order-42',
 *   args: [{ sku: 'kayak', cents: 49_900 }],
 * });
 * console.log(await handle.result());
 */
export class Client {
  readonly workflow: WorkflowClient;
  private readonly store: Store;
  private readonly ownsStore: boolean;

  constructor(options: ClientOptions) {
    if (!options?.store && !options?.connection) {
      throw new TypeError(
        `new Client() needs a store or a connection (a SQLite file path such as './keel.db').`,
      );
    }
    // A store of its own hears only of runs: not of every task that becomes ready.
    this.store = options.store ?? openStore(options.connection!, { hints: 'runs' });
    this.ownsStore = !options.store;
    this.workflow = new WorkflowClient(new Engine(this.store), {
      identity: options.identity ?? `${process.pid}@${hostname()}`,
      queryTimeoutMs: toMs(options.queryTimeout ?? '10s', 'queryTimeout'),
      ...(options.onResultWait ? { onResultWait: options.onResultWait } : {}),
    });
  }

  /** Closes the store if this client opened it. */
  async close(): Promise<void> {
    if (this.ownsStore) await this.store.close();
  }
}

/** What every handle of a client shares. @internal */
export interface ClientContext {
  identity: string;
  queryTimeoutMs: number;
  onResultWait?: () => () => void;
}

export interface SignalWithStartOptions<SignalArgs extends any[]> {
  signal: SignalDefinition<SignalArgs> | string;
  signalArgs?: SignalArgs;
}

export interface ListOptions {
  /**
   * A list filter in Keel's query language, e.g.
   * `WorkflowType = 'order' AND ExecutionStatus = 'Running' AND CustomerId = 'c-42'`
   * (see docs/visibility.md). Empty: every run.
   */
  query?: string;
  /** Runs fetched per round trip. @defaultValue 100 */
  pageSize?: number;
}

export class WorkflowClient {
  /** @internal */
  constructor(
    private readonly engine: Engine,
    private readonly context: ClientContext,
  ) {}

  /**
   * Starts a workflow and returns its handle once the start is durable. By default fails with
   * `WorkflowExecutionAlreadyStartedError` if a run with this `workflowId` is running (see
   * `workflowIdConflictPolicy` and `workflowIdReusePolicy`).
   *
   * @param workflow the workflow function (for types) or its type name
   */
  async start<W extends Workflow>(
    workflow: W | string,
    options: WorkflowStartOptions<W>,
  ): Promise<WorkflowHandle<W>> {
    const { firstExecutionRunId } = await this.startRun(workflow, options, {});
    return this.handle<W>(options.workflowId, undefined, firstExecutionRunId);
  }

  /** Starts a workflow and waits for its result. */
  async execute<W extends Workflow>(
    workflow: W | string,
    options: WorkflowStartOptions<W>,
  ): Promise<WorkflowResultType<W>> {
    // Listening from before the start: the run's close is heard without a read to begin with.
    const log = new HintLog(this.engine.store, (hint) => hint.type === 'run-closed');
    try {
      const { firstExecutionRunId, started } = await this.startRun(workflow, options, {});
      const handle = this.handle<W>(options.workflowId, undefined, firstExecutionRunId);
      // A run that was already running (USE_EXISTING) may have closed before the log began.
      return await handle.resultHeard(started ? log : undefined);
    } finally {
      log.close();
    }
  }

  /**
   * Sends a signal to the workflow, starting it first if it is not running, in one transaction.
   *
   * @example
   * await client.workflow.signalWithStart(cart, { taskQueue: 'shop', workflowId: 'cart-7', args: [], signal: addItem, signalArgs: ['kayak'] });
   */
  async signalWithStart<W extends Workflow, SignalArgs extends any[] = []>(
    workflow: W | string,
    options: WorkflowStartOptions<W> & SignalWithStartOptions<SignalArgs>,
  ): Promise<WorkflowHandle<W>> {
    const name = typeof options.signal === 'string' ? options.signal : options.signal?.name;
    if (!name) throw new TypeError('signalWithStart needs a signal (a definition or a name).');
    const signalArgs = [...(options.signalArgs ?? [])];
    assertPayload(signalArgs, `the arguments of signal '${name}'`);
    const { firstExecutionRunId } = await this.startRun(workflow, options, {
      signal: { name, args: signalArgs },
    });
    return this.handle<W>(options.workflowId, undefined, firstExecutionRunId);
  }

  private async startRun<W extends Workflow>(
    workflow: W | string,
    options: WorkflowStartOptions<W>,
    extra: Pick<StartOptions, 'signal'>,
  ) {
    const workflowType = typeof workflow === 'string' ? workflow : workflow.name;
    if (!workflowType)
      throw new TypeError(
        'The workflow has no name: pass a named function or its type name as a string.',
      );
    if (!options || typeof options.taskQueue !== 'string' || options.taskQueue === '') {
      throw new TypeError(
        `Starting workflow '${workflowType}' needs a taskQueue (a non-empty string).`,
      );
    }
    if (typeof options.workflowId !== 'string' || options.workflowId === '') {
      throw new TypeError(
        `Starting workflow '${workflowType}' needs a workflowId (a non-empty string, e.g. 'order-42').`,
      );
    }
    assertWellFormedText(options.workflowId, 'The workflowId');
    assertWellFormedText(options.taskQueue, 'The taskQueue');
    const args = [...((options.args as unknown[] | undefined) ?? [])];
    assertPayload(args, `the arguments of workflow '${workflowType}'`);
    if (options.memo !== undefined) assertPayload(options.memo, 'the memo');
    if (options.searchAttributes !== undefined) {
      const problem = validateSearchAttributeValues(options.searchAttributes);
      if (problem) throw new TypeError(`Invalid searchAttributes: ${problem}.`);
    }
    const executionTimeout = optionalMs(
      options.workflowExecutionTimeout,
      'workflowExecutionTimeout',
    );
    const runTimeout = optionalMs(options.workflowRunTimeout, 'workflowRunTimeout');
    const result = await this.engine.startWorkflow(
      {
        workflowId: options.workflowId,
        workflowType,
        taskQueue: options.taskQueue,
        input: args,
        ...(executionTimeout ? { workflowExecutionTimeout: executionTimeout } : {}),
        ...(runTimeout ? { workflowRunTimeout: runTimeout } : {}),
        workflowTaskTimeout:
          toMs(options.workflowTaskTimeout ?? '10s', 'workflowTaskTimeout') || 10_000,
        identity: this.context.identity,
        ...(options.retry ? { retryPolicy: compileRetryPolicy(options.retry) } : {}),
        ...(options.memo ? { memo: options.memo } : {}),
        ...(options.searchAttributes ? { searchAttributes: options.searchAttributes } : {}),
      },
      {
        ...(options.workflowIdReusePolicy
          ? { workflowIdReusePolicy: options.workflowIdReusePolicy }
          : {}),
        ...(options.workflowIdConflictPolicy
          ? { workflowIdConflictPolicy: options.workflowIdConflictPolicy }
          : {}),
        ...extra,
      },
    );
    crashPoint('client-after-start');
    return result;
  }

  /**
   * Runs matching `query`, newest first, fetched a page at a time.
   *
   * @example
   * for await (const run of client.workflow.list({ query: "ExecutionStatus = 'Running'" })) console.log(run.workflowId);
   */
  async *list(options: ListOptions = {}): AsyncIterable<ExecutionSummary> {
    const pageSize = options.pageSize ?? 100;
    let before: { startTime: number; runId: string } | undefined;
    for (;;) {
      const page = await this.engine.store.listExecutions({
        ...(options.query !== undefined ? { query: options.query } : {}),
        pageSize,
        ...(before ? { before } : {}),
      });
      yield* page;
      const last = page.at(-1);
      if (!last || page.length < pageSize) return;
      before = { startTime: last.startTime, runId: last.runId };
    }
  }

  /**
   * How many runs match `query`.
   *
   * @example
   * const { count } = await client.workflow.count({ query: "WorkflowType = 'order' AND ExecutionStatus = 'Failed'" });
   */
  async count(options: { query?: string } = {}): Promise<{ count: number }> {
    return { count: await this.engine.store.countExecutions(options.query ?? '') };
  }

  /** A handle to an existing workflow: its given run, or (without `runId`) whichever run is current. */
  getHandle<W extends Workflow = Workflow>(workflowId: string, runId?: string): WorkflowHandle<W> {
    return this.handle<W>(workflowId, runId, undefined);
  }

  private handle<W extends Workflow>(
    workflowId: string,
    runId: string | undefined,
    firstExecutionRunId: string | undefined,
  ): WorkflowHandle<W> {
    return new WorkflowHandle<W>(this.engine, this.context, workflowId, runId, firstExecutionRunId);
  }
}

import { hostname } from 'node:os';
import { crashPoint } from '../common/crash-points.ts';
import { optionalMs, toMs } from '../common/duration.ts';
import { assertPayload } from '../common/payload.ts';
import { Engine } from '../engine/engine.ts';
import { openStore } from '../store/open-store.ts';
import type { ExecutionSummary, ListExecutionsOptions, Store } from '../store/store.ts';
import type { Workflow, WorkflowResultType, WorkflowStartOptions } from './types.ts';
import { WorkflowHandle } from './workflow-handle.ts';

export interface ClientOptions {
  /** An open store (shared with a worker in the same process, say). Give this or `connection`. */
  store?: Store;
  /** Path of the SQLite file to open; `client.close()` closes it. */
  connection?: string;
  /** Names this client in the history. @defaultValue `pid@hostname` */
  identity?: string;
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
    this.store = options.store ?? openStore(options.connection!);
    this.ownsStore = !options.store;
    this.workflow = new WorkflowClient(
      new Engine(this.store),
      options.identity ?? `${process.pid}@${hostname()}`,
      options.onResultWait,
    );
  }

  /** Closes the store if this client opened it. */
  async close(): Promise<void> {
    if (this.ownsStore) await this.store.close();
  }
}

export class WorkflowClient {
  /** @internal */
  constructor(
    private readonly engine: Engine,
    private readonly identity: string,
    private readonly onResultWait?: () => () => void,
  ) {}

  /**
   * Starts a workflow and returns its handle once the start is durable. Fails with
   * `WorkflowExecutionAlreadyStartedError` if a run with this `workflowId` is running.
   *
   * @param workflow the workflow function (for types) or its type name
   */
  async start<W extends Workflow>(
    workflow: W | string,
    options: WorkflowStartOptions<W>,
  ): Promise<WorkflowHandle<W>> {
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
    const args = [...((options.args as unknown[] | undefined) ?? [])];
    assertPayload(args, `the arguments of workflow '${workflowType}'`);
    const executionTimeout = optionalMs(
      options.workflowExecutionTimeout,
      'workflowExecutionTimeout',
    );
    const runTimeout = optionalMs(options.workflowRunTimeout, 'workflowRunTimeout');
    const runId = await this.engine.startWorkflow({
      workflowId: options.workflowId,
      workflowType,
      taskQueue: options.taskQueue,
      input: args,
      ...(executionTimeout ? { workflowExecutionTimeout: executionTimeout } : {}),
      ...(runTimeout ? { workflowRunTimeout: runTimeout } : {}),
      workflowTaskTimeout:
        toMs(options.workflowTaskTimeout ?? '10s', 'workflowTaskTimeout') || 10_000,
      identity: this.identity,
    });
    crashPoint('client-after-start');
    return new WorkflowHandle<W>(this.engine, options.workflowId, runId, this.identity, this.onResultWait);
  }

  /** Starts a workflow and waits for its result. */
  async execute<W extends Workflow>(
    workflow: W | string,
    options: WorkflowStartOptions<W>,
  ): Promise<WorkflowResultType<W>> {
    return (await this.start(workflow, options)).result();
  }

  /**
   * Runs newest first, optionally filtered by status and type, fetched a page at a time.
   *
   * @example
   * for await (const run of client.workflow.list({ status: 'Running' })) console.log(run.workflowId);
   */
  async *list(
    options: Omit<ListExecutionsOptions, 'before' | 'workflowId'> = {},
  ): AsyncIterable<ExecutionSummary> {
    const pageSize = options.pageSize ?? 100;
    let before: ListExecutionsOptions['before'];
    for (;;) {
      const page = await this.engine.store.listExecutions({
        ...options,
        pageSize,
        ...(before ? { before } : {}),
      });
      yield* page;
      const last = page.at(-1);
      if (!last || page.length < pageSize) return;
      before = { startTime: last.startTime, runId: last.runId };
    }
  }

  /** A handle to an existing workflow: its given run, or its latest one. */
  getHandle<W extends Workflow = Workflow>(workflowId: string, runId?: string): WorkflowHandle<W> {
    return new WorkflowHandle<W>(this.engine, workflowId, runId, this.identity, this.onResultWait);
  }
}

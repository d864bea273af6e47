import { assertPayload } from '../common/payload.ts';
import { currentActivator } from '../runtime/context.ts';
import { compileChildOptions, type ChildWorkflowOptions } from '../runtime/child-options.ts';
import type { SignalDefinition } from '../runtime/definitions.ts';
import { uuid4From } from '../runtime/random.ts';

/** A workflow function, as workflow code sees other workflows. */
export type Workflow = (...args: any[]) => Promise<unknown>;

/** `args` is required exactly when the child takes arguments. */
export type ChildWorkflowStartOptions<W extends Workflow> = ChildWorkflowOptions &
  (Parameters<W> extends [any, ...any[]]
    ? { args: Parameters<W> | Readonly<Parameters<W>> }
    : { args?: Parameters<W> | Readonly<Parameters<W>> });

/** A started child workflow. */
export interface ChildWorkflowHandle<W extends Workflow> {
  workflowId: string;
  /** Run id of the child's first run. */
  firstExecutionRunId: string;
  /** The child's result; rejects with `ChildWorkflowFailure` (cause: why) if it did not complete. */
  result(): Promise<Awaited<ReturnType<W>>>;
  signal<Args extends any[]>(
    definition: SignalDefinition<Args> | string,
    ...args: Args
  ): Promise<void>;
}

/**
 * Starts a child workflow and resolves once it started. Its fate is tied to the parent by
 * `parentClosePolicy` (default: terminated when the parent closes).
 *
 * @example
 * const child = await startChild(processBatch, { workflowId: `batch-${i}`, args: [items] });
 * const summary = await child.result();
 */
export async function startChild<W extends Workflow>(
  workflow: W | string,
  options: ChildWorkflowStartOptions<W>,
): Promise<ChildWorkflowHandle<W>> {
  const activator = currentActivator('startChild()');
  const workflowType = typeof workflow === 'string' ? workflow : workflow.name;
  const args = [...((options.args as unknown[] | undefined) ?? [])];
  assertPayload(args, `the arguments of child workflow '${workflowType}'`);
  const workflowId = options.workflowId ?? uuid4From(activator.random);
  const { started, result } = activator.startChild(
    compileChildOptions(workflowType, workflowId, options),
    args,
  );
  const runId = await started;
  return {
    workflowId,
    firstExecutionRunId: runId,
    result: () => result as Promise<Awaited<ReturnType<W>>>,
    // By workflow id: the child may have continued as new since it started.
    signal: (definition, ...signalArgs) =>
      activator.signalExternal(
        workflowId,
        undefined,
        typeof definition === 'string' ? definition : definition.name,
        signalArgs,
      ),
  };
}

/**
 * Starts a child workflow and waits for its result.
 *
 * @example
 * const total = await executeChild(sumWorkflow, { args: [[1, 2, 3]] });
 */
export async function executeChild<W extends Workflow>(
  workflow: W | string,
  options: ChildWorkflowStartOptions<W>,
): Promise<Awaited<ReturnType<W>>> {
  return (await startChild(workflow, options)).result();
}

/** A handle to signal or cancel another running workflow from workflow code. */
export interface ExternalWorkflowHandle {
  workflowId: string;
  runId?: string;
  signal<Args extends any[]>(
    definition: SignalDefinition<Args> | string,
    ...args: Args
  ): Promise<void>;
  cancel(): Promise<void>;
}

/**
 * A handle to another workflow, to signal it or ask it to cancel. The promises reject with an
 * `ApplicationFailure` of type `ExternalWorkflowExecutionNotFound` if no such workflow is running
 * (left uncaught, it fails the run, as in Temporal).
 *
 * @example
 * await getExternalWorkflowHandle('inventory').signal(reserve, sku, 1);
 */
export function getExternalWorkflowHandle(
  workflowId: string,
  runId?: string,
): ExternalWorkflowHandle {
  return {
    workflowId,
    ...(runId ? { runId } : {}),
    signal: (definition, ...args) => {
      const activator = currentActivator('ExternalWorkflowHandle.signal()');
      const name = typeof definition === 'string' ? definition : definition.name;
      assertPayload(args, `the arguments of signal '${name}'`);
      return activator.signalExternal(workflowId, runId, name, args);
    },
    cancel: () =>
      currentActivator('ExternalWorkflowHandle.cancel()').cancelExternal(workflowId, runId),
  };
}

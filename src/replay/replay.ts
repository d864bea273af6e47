/**
 * Replay of saved histories against (new) workflow code, without a store: the CI check that a code
 * change is compatible with runs already in flight. The same runner as a worker's, so a replay that
 * passes here passes there.
 */
import { DeterminismViolationError } from '../common/errors.ts';
import type { WorkflowFunction } from '../runtime/activator.ts';
import { installWorkflowGuards } from '../runtime/global-guards.ts';
import { WorkflowRunner } from '../runtime/workflow-runner.ts';
import { parseHistory } from './history-file.ts';

export interface ReplayOptions {
  /** Workflow functions by type name (a module namespace), as for `Worker.create`. */
  workflows: Record<string, unknown>;
}

export interface ReplayResult {
  workflowId: string;
  runId: string;
  /** Set if the replay diverged (a `DeterminismViolationError`) or the code failed. */
  error?: Error;
}

const silent = { log: () => undefined };

/**
 * Replays one history; throws `DeterminismViolationError` (naming the event) if the code now makes
 * different commands, `HistoryFormatError` if the history is malformed.
 *
 * @example
 * await replayHistory({ workflows }, readFileSync('histories/order-42.json', 'utf8'));
 */
export async function replayHistory(options: ReplayOptions, history: unknown): Promise<void> {
  installWorkflowGuards();
  const parsed = parseHistory(history);
  const first = parsed.events[0]!;
  if (first.eventType !== 'WorkflowExecutionStarted')
    throw new DeterminismViolationError('History does not begin with WorkflowExecutionStarted.');
  const workflowType = first.attributes.workflowType;
  const workflow = options.workflows[workflowType];
  if (typeof workflow !== 'function') {
    const known = Object.entries(options.workflows)
      .filter(([, v]) => typeof v === 'function')
      .map(([k]) => k);
    throw new DeterminismViolationError(
      `Cannot replay ${parsed.workflowId}: workflow type '${workflowType}' is not among the given workflows (${known.join(', ') || 'none'}).`,
    );
  }
  const runner = new WorkflowRunner(
    workflow as WorkflowFunction,
    WorkflowRunner.infoFrom(first, parsed.runId),
    silent,
  );
  await runner.replayAll(parsed.events);
}

/** Replays many histories, reporting each outcome instead of stopping at the first failure. */
export async function* replayHistories(
  options: ReplayOptions,
  histories: Iterable<unknown> | AsyncIterable<unknown>,
): AsyncIterable<ReplayResult> {
  for await (const history of histories) {
    let ids = { workflowId: '?', runId: '?' };
    try {
      const parsed = parseHistory(history);
      ids = { workflowId: parsed.workflowId, runId: parsed.runId };
      await replayHistory(options, parsed);
      yield ids;
    } catch (error) {
      yield { ...ids, error: error as Error };
    }
  }
}

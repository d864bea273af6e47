/**
 * What a parent records about its children and about the signals and cancellation requests it sent
 * to other workflows: each outcome is an event the parent's code reacts to.
 */
import { isRunning } from './execution-state.ts';
import type { ChildOutcome, Mutation } from './mutation.ts';

export function recordChildStarted(m: Mutation, initiatedEventId: number, runId: string): void {
  const child = m.state.children?.[initiatedEventId];
  if (!isRunning(m.state) || !child) return;
  child.runId = runId;
  m.deliver({
    eventType: 'ChildWorkflowExecutionStarted',
    attributes: {
      workflowId: child.workflowId,
      runId,
      workflowType: child.workflowType,
      initiatedEventId,
    },
  });
}

export function recordChildStartFailed(m: Mutation, initiatedEventId: number): void {
  const child = m.state.children?.[initiatedEventId];
  if (!isRunning(m.state) || !child) return;
  delete m.state.children![initiatedEventId];
  m.deliver({
    eventType: 'StartChildWorkflowExecutionFailed',
    attributes: {
      workflowId: child.workflowId,
      workflowType: child.workflowType,
      initiatedEventId,
      cause: 'WorkflowAlreadyExists',
    },
  });
}

export function recordChildClosed(
  m: Mutation,
  initiatedEventId: number,
  runId: string,
  outcome: ChildOutcome,
): void {
  const child = m.state.children?.[initiatedEventId];
  if (!isRunning(m.state) || !child) return;
  delete m.state.children![initiatedEventId];
  m.deliver({
    eventType: outcome.eventType,
    attributes: {
      workflowId: child.workflowId,
      runId,
      workflowType: child.workflowType,
      initiatedEventId,
      ...outcome.attributes,
    },
  } as never);
}

/** The answer to a signal or cancellation request this run sent: delivered, or no such workflow. */
export function recordExternalOutcome(
  m: Mutation,
  initiatedEventId: number,
  runId: string | undefined,
): void {
  const external = m.state.externals?.[initiatedEventId];
  if (!isRunning(m.state) || !external) return;
  delete m.state.externals![initiatedEventId];
  const { workflowId } = external;
  if (external.kind === 'signal') {
    m.deliver(
      runId
        ? {
            eventType: 'ExternalWorkflowExecutionSignaled',
            attributes: { initiatedEventId, workflowId, runId },
          }
        : {
            eventType: 'SignalExternalWorkflowExecutionFailed',
            attributes: {
              initiatedEventId,
              workflowId,
              ...(external.runId ? { runId: external.runId } : {}),
              cause: 'ExternalWorkflowExecutionNotFound',
            },
          },
    );
  } else {
    m.deliver(
      runId
        ? {
            eventType: 'ExternalWorkflowExecutionCancelRequested',
            attributes: { initiatedEventId, workflowId, runId },
          }
        : {
            eventType: 'RequestCancelExternalWorkflowExecutionFailed',
            attributes: {
              initiatedEventId,
              workflowId,
              ...(external.runId ? { runId: external.runId } : {}),
              cause: 'ExternalWorkflowExecutionNotFound',
            },
          },
    );
  }
}

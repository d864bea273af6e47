/**
 * Applies the effects transitions have on other runs, in the same transaction, until none are left
 * (terminating a child may notify its own children, and so on).
 */
import { uuid7 } from '../common/ids.ts';
import {
  recordChildClosed,
  recordChildStarted,
  recordChildStartFailed,
  recordExternalOutcome,
} from '../state/children.ts';
import { requestCancelWorkflow, startWorkflow, terminateWorkflow } from '../state/execution.ts';
import { signalWorkflow } from '../state/messages.ts';
import type { Effect } from '../state/mutation.ts';
import type { UnitOfWork } from './unit-of-work.ts';

export async function applyEffects(uow: UnitOfWork): Promise<void> {
  for (;;) {
    const pending = [...uow.runs].find((m) => m.effects.length > 0);
    if (!pending) return;
    await applyEffect(uow, pending.effects.shift()!);
  }
}

async function applyEffect(uow: UnitOfWork, effect: Effect): Promise<void> {
  switch (effect.type) {
    case 'start-child': {
      const parent = await uow.load(effect.parent.runId);
      const a = effect.attributes;
      if (await uow.running(a.workflowId)) {
        if (parent) recordChildStartFailed(parent, effect.parent.initiatedEventId);
        return;
      }
      const runId = uuid7(uow.now);
      const child = startWorkflow(
        {
          workflowId: a.workflowId,
          runId,
          workflowType: a.workflowType,
          taskQueue: a.taskQueue,
          input: a.input,
          ...(a.workflowExecutionTimeout
            ? { workflowExecutionTimeout: a.workflowExecutionTimeout }
            : {}),
          ...(a.workflowRunTimeout ? { workflowRunTimeout: a.workflowRunTimeout } : {}),
          workflowTaskTimeout: a.workflowTaskTimeout,
          ...(a.retryPolicy ? { retryPolicy: a.retryPolicy } : {}),
          ...(a.memo ? { memo: a.memo } : {}),
          ...(a.searchAttributes ? { searchAttributes: a.searchAttributes } : {}),
          parent: effect.parent,
          parentClosePolicy: a.parentClosePolicy,
          identity: `parent:${effect.parent.workflowId}`,
        },
        uow.now,
      );
      uow.create(child);
      if (parent) recordChildStarted(parent, effect.parent.initiatedEventId, runId);
      return;
    }
    case 'notify-parent': {
      const parent = await uow.load(effect.parent.runId);
      if (parent)
        recordChildClosed(
          parent,
          effect.parent.initiatedEventId,
          effect.child.runId,
          effect.outcome,
        );
      return;
    }
    case 'close-child': {
      // The current run of the child's chain (it may have continued as new, keeping its parent),
      // never another workflow that holds the id.
      const child = await uow.running(effect.workflowId);
      const parent = child?.state.parent;
      if (
        !child ||
        parent?.runId !== effect.parent.runId ||
        parent.initiatedEventId !== effect.parent.initiatedEventId
      ) {
        return;
      }
      if (effect.policy === 'TERMINATE')
        terminateWorkflow(child, effect.reason, 'parent-close-policy');
      else requestCancelWorkflow(child, 'parent-close-policy');
      return;
    }
    case 'signal-external':
    case 'cancel-external': {
      const target = effect.runId
        ? await uow.load(effect.runId)
        : await uow.running(effect.workflowId);
      const reachable =
        target &&
        target.state.workflowId === effect.workflowId &&
        target.state.status === 'Running' &&
        (effect.type === 'signal-external' ||
          !effect.childWorkflowOnly ||
          target.state.parent?.runId === effect.source.runId);
      if (reachable) {
        if (effect.type === 'signal-external') {
          signalWorkflow(
            target,
            effect.signalName,
            effect.input,
            `workflow:${effect.source.runId}`,
          );
        } else {
          requestCancelWorkflow(target, `workflow:${effect.source.runId}`);
        }
      }
      const source = await uow.load(effect.source.runId);
      if (source)
        recordExternalOutcome(
          source,
          effect.source.initiatedEventId,
          reachable ? target.state.runId : undefined,
        );
      return;
    }
    case 'start-run':
      uow.create(startWorkflow(effect.input, uow.now));
      return;
  }
}

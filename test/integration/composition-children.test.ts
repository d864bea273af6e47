/**
 * Child workflows end to end: results and failures, handles, id conflicts, parent-close policies,
 * cancellation from parent to child, fan-out, and children that continue as new.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ApplicationFailure,
  CancelledFailure,
  TerminatedFailure,
  WorkflowFailedError,
  type HistoryEvent,
  type WorkflowHandle,
} from 'keel/client';
import { ChildWorkflowFailure } from 'keel/workflow';
import { withTestEnv, type TestEnv } from '../helpers/env.ts';
import * as workflows from '../fixtures/composition-workflows.ts';
import { createCompositionActivities } from '../fixtures/composition-activities.ts';
import {
  ActivityProbe,
  eventsOfType,
  historyOf,
  waitFor,
  waitForEvent,
  within,
} from '../fixtures/integration-support.ts';

async function setup(env: TestEnv): Promise<ActivityProbe> {
  const probe = new ActivityProbe();
  await env.startWorker({ workflows, activities: createCompositionActivities(probe) });
  return probe;
}

async function failureOf(handle: WorkflowHandle): Promise<WorkflowFailedError> {
  const error = await within(10_000, 'result', handle.result()).then(
    (value) =>
      assert.fail(`the workflow should not complete; it returned ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  assert.equal(error instanceof WorkflowFailedError, true, String(error));
  return error as WorkflowFailedError;
}

function types(events: HistoryEvent[]): string[] {
  return events.map((e) => e.eventType);
}

function indexOf(list: string[], type: string): number {
  const index = list.indexOf(type);
  assert.notEqual(index, -1, `no ${type} in ${list.join(', ')}`);
  return index;
}

/** Run ids of `workflowId`, oldest first. */
async function runsOf(env: TestEnv, workflowId: string): Promise<string[]> {
  const runs: string[] = [];
  for await (const run of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
    runs.push(run.runId);
  return runs.reverse();
}

test('executeChild returns the child result; the child knows its parent, describe() names it, the history records the child', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const handle = await env.client.workflow.start(workflows.parentExecutesChildren, {
      taskQueue: env.taskQueue,
      workflowId: 'parent',
      args: [20, 22],
    });
    const parentRunId = handle.firstExecutionRunId!;
    const result = await within(10_000, 'result', handle.result());
    assert.deepEqual(result, {
      sum: 42,
      childSaw: { parent: { workflowId: 'parent', runId: parentRunId } },
    });

    const child = await env.client.workflow.getHandle('parent-add').describe();
    assert.equal(child.type, 'addChild');
    assert.equal(child.status.name, 'Completed');
    assert.equal(child.taskQueue, env.taskQueue, 'the child runs on the parent task queue');
    assert.deepEqual(child.parent, { workflowId: 'parent', runId: parentRunId });

    const events = await historyOf(handle);
    const initiated = eventsOfType(events, 'StartChildWorkflowExecutionInitiated');
    assert.deepEqual(
      initiated.map((e) => [e.attributes.workflowId, e.attributes.workflowType]),
      [
        ['parent-add', 'addChild'],
        ['parent-info', 'reportsParent'],
      ],
    );
    assert.deepEqual(initiated[0]!.attributes.input, [20, 22]);
    const started = eventsOfType(events, 'ChildWorkflowExecutionStarted');
    assert.deepEqual(
      started.map((e) => e.attributes.initiatedEventId),
      initiated.map((e) => e.eventId),
    );
    assert.equal(started[0]!.attributes.runId, child.runId);
    const completed = eventsOfType(events, 'ChildWorkflowExecutionCompleted');
    assert.deepEqual(
      completed.map((e) => [e.attributes.workflowId, e.attributes.result]),
      [
        ['parent-add', 42],
        ['parent-info', { parent: { workflowId: 'parent', runId: parentRunId } }],
      ],
    );
    // The second child starts only after the first completed: executeChild waits.
    const list = types(events);
    assert.equal(
      list.indexOf('ChildWorkflowExecutionCompleted') <
        list.lastIndexOf('StartChildWorkflowExecutionInitiated'),
      true,
      list.join(', '),
    );

    const childEvents = await historyOf(env.client.workflow.getHandle('parent-add'));
    const first = eventsOfType(childEvents, 'WorkflowExecutionStarted')[0]!;
    assert.equal(first.attributes.parent?.workflowId, 'parent');
    assert.equal(first.attributes.parent?.runId, parentRunId);
    assert.equal(first.attributes.parent?.initiatedEventId, initiated[0]!.eventId);
    assert.equal(first.attributes.parentClosePolicy, 'TERMINATE');
  });
});

test('startChild gives a handle: workflowId, firstExecutionRunId, signal() and result()', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const handle = await env.client.workflow.start(workflows.parentSignalsChild, {
      taskQueue: env.taskQueue,
      workflowId: 'signaller',
    });
    const result = await within(10_000, 'result', handle.result());
    const child = await env.client.workflow.getHandle('signaller-child').describe();
    assert.deepEqual(result, {
      workflowId: 'signaller-child',
      firstExecutionRunId: child.runId,
      result: 'child got hello',
    });
    const childEvents = await historyOf(env.client.workflow.getHandle('signaller-child'));
    const [signaled] = eventsOfType(childEvents, 'WorkflowExecutionSignaled');
    assert.equal(signaled?.attributes.signalName, 'proceed');
    assert.deepEqual(signaled?.attributes.input, ['hello']);
    const parentEvents = await historyOf(handle);
    assert.equal(eventsOfType(parentEvents, 'SignalExternalWorkflowExecutionInitiated').length, 1);
    assert.equal(eventsOfType(parentEvents, 'ExternalWorkflowExecutionSignaled').length, 1);
  });
});

test('a failing child rejects with ChildWorkflowFailure whose cause is its ApplicationFailure; the parent history has ChildWorkflowExecutionFailed', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const handle = await env.client.workflow.start(workflows.parentOfFailingChild, {
      taskQueue: env.taskQueue,
      workflowId: 'failing-parent',
    });
    const error = await failureOf(handle);
    const childFailure = error.cause as ChildWorkflowFailure;
    assert.equal(childFailure instanceof ChildWorkflowFailure, true, String(childFailure));
    assert.equal(childFailure.execution.workflowId, 'failing-parent-child');
    assert.equal(childFailure.workflowType, 'failingChild');
    const cause = childFailure.cause as ApplicationFailure;
    assert.equal(cause instanceof ApplicationFailure, true, String(cause));
    assert.equal(cause.type, 'ChildBroke');
    assert.equal(cause.message, 'the child broke');
    assert.deepEqual(cause.details, [42]);

    const events = await historyOf(handle);
    const [failed] = eventsOfType(events, 'ChildWorkflowExecutionFailed');
    assert.equal(failed?.attributes.workflowId, 'failing-parent-child');
    assert.equal(failed?.attributes.failure.message, 'the child broke');
    assert.equal(failed?.attributes.failure.applicationFailureInfo?.type, 'ChildBroke');
    assert.equal(types(events).at(-1), 'WorkflowExecutionFailed');
    const child = await env.client.workflow.getHandle('failing-parent-child').describe();
    assert.equal(child.status.name, 'Failed');
    assert.equal(failed?.attributes.runId, child.runId);
  });
});

test('a child whose workflow id is already running: the parent gets WorkflowExecutionAlreadyStartedError; the running workflow is untouched', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const taken = await env.client.workflow.start(workflows.sleepsFor, {
      taskQueue: env.taskQueue,
      workflowId: 'taken',
      args: ['1 day'],
    });
    const handle = await env.client.workflow.start(workflows.parentStartsTakenChild, {
      taskQueue: env.taskQueue,
      workflowId: 'would-be-parent',
      args: ['taken'],
    });
    assert.deepEqual(await within(10_000, 'result', handle.result()), {
      name: 'WorkflowExecutionAlreadyStartedError',
      isAlreadyStarted: true,
      workflowId: 'taken',
    });
    const events = await historyOf(handle);
    const [failed] = eventsOfType(events, 'StartChildWorkflowExecutionFailed');
    assert.equal(failed?.attributes.cause, 'WorkflowAlreadyExists');
    assert.equal(failed?.attributes.workflowId, 'taken');
    assert.equal(eventsOfType(events, 'ChildWorkflowExecutionStarted').length, 0);

    const d = await taken.describe();
    assert.equal(d.status.name, 'Running');
    assert.equal(d.runId, taken.firstExecutionRunId);
    assert.equal(d.parent, undefined);
    assert.deepEqual(await runsOf(env, 'taken'), [taken.firstExecutionRunId]);
  });
});

test('parent close policy TERMINATE (explicit and by default): the children are terminated when the parent completes', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(workflows.parentLeavesChildren, {
      taskQueue: env.taskQueue,
      workflowId: 'terminating-parent',
      args: [['default', 'TERMINATE']],
    });
    const ids = await within(10_000, 'result', handle.result());
    assert.deepEqual(ids, ['terminating-parent-0', 'terminating-parent-1']);
    for (const id of ids) {
      // The parent's completion and the children's termination are one transaction.
      const child = env.client.workflow.getHandle(id);
      assert.equal((await child.describe()).status.name, 'Terminated');
      const last = (await historyOf(child)).at(-1)!;
      assert.equal(last.eventType, 'WorkflowExecutionTerminated');
      assert.match(
        (last.attributes as { reason?: string }).reason ?? '',
        /terminating-parent.*TERMINATE/,
      );
      const error = await failureOf(child);
      assert.equal(error.cause instanceof TerminatedFailure, true, String(error.cause));
    }
    assert.equal(probe.of('record').length, 0, 'a terminated child runs no cleanup');
  });
});

test('parent close policy REQUEST_CANCEL: the child sees the cancellation, cleans up, and closes Canceled', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(workflows.parentLeavesChildren, {
      taskQueue: env.taskQueue,
      workflowId: 'cancelling-parent',
      args: [['REQUEST_CANCEL']],
    });
    const [id] = await within(10_000, 'result', handle.result());
    const child = env.client.workflow.getHandle(id!);
    const error = await failureOf(child);
    assert.equal(error.cause instanceof CancelledFailure, true, String(error.cause));
    assert.equal((await child.describe()).status.name, 'Canceled');
    assert.deepEqual(
      probe.of('record').map((a) => a.args),
      [[`cleanup ${id}`]],
    );
    const list = types(await historyOf(child));
    const requested = indexOf(list, 'WorkflowExecutionCancelRequested');
    assert.equal(requested < indexOf(list, 'ActivityTaskCompleted'), true, list.join(', '));
    assert.equal(list.at(-1), 'WorkflowExecutionCanceled');
  });
});

test('parent close policy ABANDON: the child keeps running after the parent completed, and completes', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const handle = await env.client.workflow.start(workflows.parentLeavesChildren, {
      taskQueue: env.taskQueue,
      workflowId: 'abandoning-parent',
      args: [['ABANDON']],
    });
    const [id] = await within(10_000, 'result', handle.result());
    const child = env.client.workflow.getHandle(id!);
    assert.equal((await child.describe()).status.name, 'Running');
    assert.equal(
      eventsOfType(await historyOf(child), 'WorkflowExecutionCancelRequested').length,
      0,
    );
    await child.signal(workflows.finish);
    assert.equal(await within(10_000, 'child result', child.result()), 'finished');
    assert.equal((await child.describe()).status.name, 'Completed');
  });
});

test('cancelling the parent cancels the child (WorkflowExecutionCancelRequested); the parent sees ChildWorkflowFailure <- CancelledFailure', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(workflows.parentAwaitsChild, {
      taskQueue: env.taskQueue,
      workflowId: 'cancelled-parent',
      args: ['report'],
    });
    const child = env.client.workflow.getHandle('cancelled-parent-child');
    await waitForEvent(handle, 'ChildWorkflowExecutionStarted');
    await waitForEvent(child, 'WorkflowTaskCompleted');
    await handle.cancel();
    assert.deepEqual(await within(10_000, 'result', handle.result()), {
      name: 'ChildWorkflowFailure',
      causeName: 'CancelledFailure',
      causeMessage: 'Child workflow cancelled',
    });
    assert.equal((await child.describe()).status.name, 'Canceled');
    assert.deepEqual(
      probe.of('record').map((a) => a.args),
      [['cleanup cancelled-parent-child']],
    );
    const childTypes = types(await historyOf(child));
    indexOf(childTypes, 'WorkflowExecutionCancelRequested');
    assert.equal(childTypes.at(-1), 'WorkflowExecutionCanceled');

    const parentTypes = types(await historyOf(handle));
    const order = [
      'WorkflowExecutionCancelRequested',
      'RequestCancelExternalWorkflowExecutionInitiated',
      'ExternalWorkflowExecutionCancelRequested',
      'ChildWorkflowExecutionCanceled',
      'WorkflowExecutionCompleted',
    ].map((t) => indexOf(parentTypes, t));
    assert.deepEqual(
      order,
      [...order].sort((a, b) => a - b),
      parentTypes.join(', '),
    );
  });
});

test('a parent that rethrows the cancelled child failure closes Canceled', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const handle = await env.client.workflow.start(workflows.parentAwaitsChild, {
      taskQueue: env.taskQueue,
      workflowId: 'rethrowing-parent',
      args: ['rethrow'],
    });
    const child = env.client.workflow.getHandle('rethrowing-parent-child');
    await waitForEvent(handle, 'ChildWorkflowExecutionStarted');
    await handle.cancel();
    const error = await failureOf(handle);
    assert.equal(error.cause instanceof CancelledFailure, true, String(error.cause));
    assert.equal((await handle.describe()).status.name, 'Canceled');
    assert.equal((await child.describe()).status.name, 'Canceled');
  });
});

test('terminating the parent applies the parent close policies too', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(workflows.parentStartsAndWaits, {
      taskQueue: env.taskQueue,
      workflowId: 'terminated-parent',
      args: [['TERMINATE', 'REQUEST_CANCEL', 'ABANDON']],
    });
    await waitFor('the children to start', async () => {
      const events = await historyOf(handle);
      return eventsOfType(events, 'ChildWorkflowExecutionStarted').length === 3;
    });
    for (let i = 0; i < 3; i++)
      await waitForEvent(
        env.client.workflow.getHandle(`terminated-parent-${i}`),
        'WorkflowTaskCompleted',
      );
    await handle.terminate('stop the family');
    const [terminated, cancelled, abandoned] = [0, 1, 2].map((i) =>
      env.client.workflow.getHandle(`terminated-parent-${i}`),
    );
    assert.equal((await terminated!.describe()).status.name, 'Terminated');
    const error = await failureOf(cancelled!);
    assert.equal(error.cause instanceof CancelledFailure, true, String(error.cause));
    assert.deepEqual(
      probe.of('record').map((a) => a.args[0]),
      ['cleanup terminated-parent-1'],
    );
    assert.equal((await abandoned!.describe()).status.name, 'Running');
    await abandoned!.signal(workflows.finish);
    assert.equal(await within(10_000, 'abandoned child', abandoned!.result()), 'finished');
  });
});

test('child cancellationType TRY_CANCEL: the parent sees the cancellation at once and may close before the child does', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(workflows.parentCancelsChildWith, {
      taskQueue: env.taskQueue,
      workflowId: 'try-cancel-parent',
      args: ['TRY_CANCEL', 'ABANDON'],
    });
    const child = env.client.workflow.getHandle('try-cancel-parent-child');
    await waitForEvent(handle, 'ChildWorkflowExecutionStarted');
    await waitForEvent(child, 'WorkflowTaskCompleted');
    await handle.cancel();
    assert.deepEqual(await within(10_000, 'result', handle.result()), {
      name: 'ChildWorkflowFailure',
      causeName: 'CancelledFailure',
      causeMessage: 'Child workflow cancelled',
    });
    const parentEvents = await historyOf(handle);
    const [requested] = eventsOfType(
      parentEvents,
      'RequestCancelExternalWorkflowExecutionInitiated',
    );
    const [completed] = eventsOfType(parentEvents, 'WorkflowExecutionCompleted');
    assert.equal(
      requested?.attributes.workflowTaskCompletedEventId,
      completed?.attributes.workflowTaskCompletedEventId,
      'the parent completed in the task that asked the child to cancel',
    );
    assert.equal(eventsOfType(parentEvents, 'ChildWorkflowExecutionCanceled').length, 0);
    // The child still got the request, cleaned up and closed Canceled.
    const error = await failureOf(child);
    assert.equal(error.cause instanceof CancelledFailure, true, String(error.cause));
    assert.deepEqual(
      probe.of('record').map((a) => a.args[0]),
      ['cleanup try-cancel-parent-child'],
    );
  });
});

test('child cancellationType ABANDON: the parent sees the cancellation, the child is not asked to cancel', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const handle = await env.client.workflow.start(workflows.parentCancelsChildWith, {
      taskQueue: env.taskQueue,
      workflowId: 'abandon-cancel-parent',
      args: ['ABANDON', 'ABANDON'],
    });
    const child = env.client.workflow.getHandle('abandon-cancel-parent-child');
    await waitForEvent(handle, 'ChildWorkflowExecutionStarted');
    await waitForEvent(child, 'WorkflowTaskCompleted');
    await handle.cancel();
    assert.deepEqual(await within(10_000, 'result', handle.result()), {
      name: 'ChildWorkflowFailure',
      causeName: 'CancelledFailure',
      causeMessage: 'Child workflow cancelled',
    });
    const parentEvents = await historyOf(handle);
    assert.equal(
      eventsOfType(parentEvents, 'RequestCancelExternalWorkflowExecutionInitiated').length,
      0,
    );
    assert.equal((await child.describe()).status.name, 'Running');
    assert.equal(
      eventsOfType(await historyOf(child), 'WorkflowExecutionCancelRequested').length,
      0,
    );
    await child.signal(workflows.finish);
    assert.equal(await within(10_000, 'child result', child.result()), 'finished');
  });
});

test('50 children in parallel all complete, each once', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const handle = await env.client.workflow.start(workflows.fanOut, {
      taskQueue: env.taskQueue,
      workflowId: 'fan',
      args: [50],
    });
    // sum of (i + 1) for i in 0..49
    assert.equal(await within(20_000, 'result', handle.result()), 1275);
    const events = await historyOf(handle);
    const initiated = eventsOfType(events, 'StartChildWorkflowExecutionInitiated');
    assert.equal(initiated.length, 50);
    assert.equal(new Set(initiated.map((e) => e.attributes.workflowId)).size, 50);
    // All were started from the parent's first workflow task: they ran in parallel.
    assert.equal(new Set(initiated.map((e) => e.attributes.workflowTaskCompletedEventId)).size, 1);
    const completed = eventsOfType(events, 'ChildWorkflowExecutionCompleted');
    assert.equal(completed.length, 50);
    assert.equal(new Set(completed.map((e) => e.attributes.initiatedEventId)).size, 50);
    const { count } = await env.client.workflow.count({ query: "WorkflowType = 'addChild'" });
    assert.equal(count, 50);
    const done = await env.client.workflow.count({
      query: "WorkflowType = 'addChild' AND ExecutionStatus = 'Completed'",
    });
    assert.equal(done.count, 50);
  });
});

test('executeChild of a child that continues as new returns the result of its last run', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const handle = await env.client.workflow.start(workflows.parentExecutesContinuingChild, {
      taskQueue: env.taskQueue,
      workflowId: 'chain-parent',
    });
    const result = await within(10_000, 'result', handle.result());
    const runs = await runsOf(env, 'chain-parent-child');
    assert.equal(runs.length, 3);
    assert.deepEqual(result, { runId: runs[2], runs: 0 });
    const events = await historyOf(handle);
    assert.equal(eventsOfType(events, 'ChildWorkflowExecutionStarted').length, 1);
    const [completed] = eventsOfType(events, 'ChildWorkflowExecutionCompleted');
    assert.equal(completed?.attributes.runId, runs[2]);
    // Each run of the chain names the parent.
    for (const runId of runs) {
      const d = await env.client.workflow.getHandle('chain-parent-child', runId).describe();
      assert.equal(d.parent?.workflowId, 'chain-parent');
    }
  });
});

/** The first of `candidates` to appear in the run's history. */
async function firstOf(handle: WorkflowHandle, candidates: string[]): Promise<string> {
  return waitFor(`one of ${candidates.join(', ')}`, async () =>
    types(await historyOf(handle)).find((t) => candidates.includes(t)),
  );
}

/** Starts `parentOfContinuingChild` and waits until its child is in its second run. */
async function withContinuedChild(
  env: TestEnv,
  workflowId: string,
  policy: 'TERMINATE' | 'REQUEST_CANCEL',
) {
  const handle = await env.client.workflow.start(workflows.parentOfContinuingChild, {
    taskQueue: env.taskQueue,
    workflowId,
    args: [policy],
  });
  const childId = `${workflowId}-child`;
  const runs = await waitFor('the child to continue as new', async () => {
    const r = await runsOf(env, childId);
    return r.length === 2 ? r : undefined;
  });
  await waitForEvent(env.client.workflow.getHandle(childId, runs[1]), 'WorkflowTaskCompleted');
  return { handle, childId, runs };
}

test('parent close policy TERMINATE reaches a child that continued as new', {}, async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const { handle, childId, runs } = await withContinuedChild(env, 'cparent-term', 'TERMINATE');
    await handle.signal(workflows.proceed, 'close');
    assert.equal(await within(10_000, 'result', handle.result()), 'closed');
    const current = await env.client.workflow.getHandle(childId, runs[1]).describe();
    assert.equal(current.status.name, 'Terminated');
  });
});

test('a child handle signals a child that continued as new', {}, async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const { handle } = await withContinuedChild(env, 'cparent-signal', 'TERMINATE');
    await handle.signal(workflows.proceed, 'signal-child');
    const outcome = await firstOf(handle, [
      'ExternalWorkflowExecutionSignaled',
      'SignalExternalWorkflowExecutionFailed',
    ]);
    assert.equal(outcome, 'ExternalWorkflowExecutionSignaled');
    assert.equal(await within(5_000, 'result', handle.result()), 'finished');
  });
});

test('cancelling a parent reaches a child that continued as new', {}, async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const handle = await env.client.workflow.start(workflows.parentAwaitsContinuingChild, {
      taskQueue: env.taskQueue,
      workflowId: 'cparent-cancel',
    });
    const runs = await waitFor('the child to continue as new', async () => {
      const r = await runsOf(env, 'cparent-cancel-child');
      return r.length === 2 ? r : undefined;
    });
    await waitForEvent(
      env.client.workflow.getHandle('cparent-cancel-child', runs[1]),
      'WorkflowTaskCompleted',
    );
    await handle.cancel();
    const outcome = await firstOf(handle, [
      'ExternalWorkflowExecutionCancelRequested',
      'RequestCancelExternalWorkflowExecutionFailed',
    ]);
    assert.equal(outcome, 'ExternalWorkflowExecutionCancelRequested');
    assert.deepEqual(await within(5_000, 'result', handle.result()), {
      name: 'ChildWorkflowFailure',
      causeName: 'CancelledFailure',
      causeMessage: 'Child workflow cancelled',
    });
  });
});

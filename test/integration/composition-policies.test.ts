/**
 * Workflow-level policies end to end: run and execution timeouts and the workflow retry policy (in
 * a time-skipping environment), id reuse policies and id conflict policies (with the real clock).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ApplicationFailure,
  RetryState,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type HistoryEvent,
  type WorkflowHandle,
} from 'keel/client';
import { TestWorkflowEnvironment } from 'keel/testing';
import { Worker } from 'keel/worker';
import { withTestEnv, type TestEnv } from '../helpers/env.ts';
import * as workflows from '../fixtures/composition-workflows.ts';
import { createCompositionActivities } from '../fixtures/composition-activities.ts';
import {
  ActivityProbe,
  eventsOfType,
  historyOf,
  waitForEvent,
  within,
} from '../fixtures/integration-support.ts';

const HOUR = 60 * 60 * 1000;
const QUEUE = 'policies';

async function withTimeSkipping(fn: (env: TestWorkflowEnvironment) => Promise<void>) {
  const env = await TestWorkflowEnvironment.createTimeSkipping();
  const worker = await Worker.create({
    store: env.store,
    taskQueue: QUEUE,
    workflows,
    activities: createCompositionActivities(new ActivityProbe()),
    handleSignals: false,
    logger: { log() {} },
  });
  try {
    await worker.runUntil(fn(env));
  } finally {
    await env.teardown();
  }
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

/** Run ids of `workflowId`, oldest first. */
async function runsOf(client: TestEnv['client'], workflowId: string): Promise<string[]> {
  const runs: string[] = [];
  for await (const run of client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
    runs.push(run.runId);
  return runs.reverse();
}

async function closingEvent(client: TestEnv['client'], workflowId: string, runId: string) {
  return (await historyOf(client.workflow.getHandle(workflowId, runId))).at(-1)!;
}

// ---- timeouts (time skipping) ----

test('workflowRunTimeout closes a run that sleeps past it as TimedOut (RUN)', async () => {
  await withTimeSkipping(async (env) => {
    const start = env.currentTime.getTime();
    const handle = await env.client.workflow.start(workflows.sleepsFor, {
      taskQueue: QUEUE,
      workflowId: 'run-timeout',
      args: ['1 day'],
      workflowRunTimeout: '2 hours',
    });
    const error = await failureOf(handle);
    assert.equal(error.cause instanceof TimeoutFailure, true, String(error.cause));
    assert.equal(error.retryState, RetryState.TIMEOUT);
    assert.equal((await handle.describe()).status.name, 'TimedOut');
    const events = await historyOf(handle);
    const last = events.at(-1) as HistoryEvent<'WorkflowExecutionTimedOut'>;
    assert.equal(last.eventType, 'WorkflowExecutionTimedOut');
    assert.equal(last.attributes.timeoutType, 'RUN');
    assert.equal(last.eventTime - start >= 2 * HOUR, true);
    assert.equal(last.eventTime - start < 24 * HOUR, true, 'it did not wait for the timer');
    assert.equal(eventsOfType(events, 'TimerFired').length, 0);
  });
});

test('workflowExecutionTimeout bounds a whole chain of continue-as-new runs (EXECUTION)', async () => {
  await withTimeSkipping(async (env) => {
    const start = env.currentTime.getTime();
    const handle = await env.client.workflow.start(workflows.continuesHourly, {
      taskQueue: QUEUE,
      workflowId: 'execution-timeout',
      args: [0],
      workflowExecutionTimeout: '150 minutes',
    });
    const error = await failureOf(handle);
    assert.equal(error.cause instanceof TimeoutFailure, true, String(error.cause));
    const runs = await runsOf(env.client, 'execution-timeout');
    assert.equal(runs.length, 3, 'two hourly runs continued, the third ran out of time');
    const last = (await closingEvent(
      env.client,
      'execution-timeout',
      runs[2]!,
    )) as HistoryEvent<'WorkflowExecutionTimedOut'>;
    assert.equal(last.eventType, 'WorkflowExecutionTimedOut');
    assert.equal(last.attributes.timeoutType, 'EXECUTION');
    // One deadline for the chain, set at the start and carried by every run.
    const deadlines = new Set<number | undefined>();
    for (const [i, runId] of runs.entries()) {
      const events = await historyOf(env.client.workflow.getHandle('execution-timeout', runId));
      const started = eventsOfType(events, 'WorkflowExecutionStarted')[0]!;
      deadlines.add(started.attributes.workflowExecutionExpirationTime);
      if (i === 0)
        assert.equal(
          started.attributes.workflowExecutionExpirationTime,
          started.eventTime + 150 * 60 * 1000,
        );
      if (i < 2) assert.equal(events.at(-1)!.eventType, 'WorkflowExecutionContinuedAsNew');
    }
    assert.equal(deadlines.size, 1);
    const [deadline] = [...deadlines];
    assert.equal(last.eventTime >= deadline!, true);
    assert.equal(last.eventTime - start < 3 * HOUR, true, 'it did not wait for the third hour');
    const d = await env.client.workflow.getHandle('execution-timeout').describe();
    assert.equal(d.runId, runs[2]);
    assert.equal(d.status.name, 'TimedOut');
  });
});

test('a child with a workflowRunTimeout times out; the parent sees ChildWorkflowFailure <- TimeoutFailure', async () => {
  await withTimeSkipping(async (env) => {
    const handle = await env.client.workflow.start(workflows.parentOfSlowChild, {
      taskQueue: QUEUE,
      workflowId: 'slow-child-parent',
    });
    const result = await within(10_000, 'result', handle.result());
    assert.equal(result.name, 'ChildWorkflowFailure');
    assert.equal(result.causeName, 'TimeoutFailure');
    const [timedOut] = eventsOfType(await historyOf(handle), 'ChildWorkflowExecutionTimedOut');
    assert.equal(timedOut?.attributes.workflowId, 'slow-child-parent-child');
    const child = await env.client.workflow.getHandle('slow-child-parent-child').describe();
    assert.equal(child.status.name, 'TimedOut');
  });
});

// ---- workflow retry policy (time skipping) ----

const retry = { maximumAttempts: 3, initialInterval: '1s' } as const;

test('a workflow retry policy retries a failing workflow as new runs: the attempt grows, result() follows to the last run', async () => {
  await withTimeSkipping(async (env) => {
    const start = env.currentTime.getTime();
    const handle = await env.client.workflow.start(workflows.flaky, {
      taskQueue: QUEUE,
      workflowId: 'flaky',
      args: [3, 'same input'],
      retry,
    });
    const result = await within(10_000, 'result', handle.result());
    const runs = await runsOf(env.client, 'flaky');
    assert.equal(runs.length, 3);
    assert.deepEqual(result, { attempt: 3, label: 'same input', continuedFrom: runs[1] });
    assert.equal(runs[0], handle.firstExecutionRunId);

    for (const [i, runId] of runs.entries()) {
      const events = await historyOf(env.client.workflow.getHandle('flaky', runId));
      const started = eventsOfType(events, 'WorkflowExecutionStarted')[0]!;
      assert.equal(started.attributes.attempt, i + 1);
      assert.deepEqual(started.attributes.input, [3, 'same input']);
      assert.equal(started.attributes.firstExecutionRunId, runs[0]);
      const last = events.at(-1)!;
      if (i < 2) {
        const failed = last as HistoryEvent<'WorkflowExecutionFailed'>;
        assert.equal(failed.eventType, 'WorkflowExecutionFailed');
        assert.equal(failed.attributes.retryState, RetryState.IN_PROGRESS);
        assert.equal(failed.attributes.newExecutionRunId, runs[i + 1]);
        assert.equal(failed.attributes.failure.message, `attempt ${i + 1} failed`);
        const d = await env.client.workflow.getHandle('flaky', runId).describe();
        assert.equal(d.status.name, 'Failed');
        assert.equal(d.newExecutionRunId, runs[i + 1]);
      } else {
        assert.equal(last.eventType, 'WorkflowExecutionCompleted');
      }
      if (i > 0) {
        assert.equal(started.attributes.initiator, 'Retry');
        assert.equal(started.attributes.continuedExecutionRunId, runs[i - 1]);
        assert.equal(started.attributes.continuedFailure?.message, `attempt ${i} failed`);
        // Backoff: 1 s, then 2 s (coefficient 2).
        assert.equal(started.attributes.firstWorkflowTaskBackoff, 1000 * 2 ** (i - 1));
      }
    }
    assert.equal(env.currentTime.getTime() - start >= 3000, true, 'the backoffs passed');
  });
});

test('a workflow that fails every attempt: after maximumAttempts the failure has the last cause', async () => {
  await withTimeSkipping(async (env) => {
    const handle = await env.client.workflow.start(workflows.flaky, {
      taskQueue: QUEUE,
      workflowId: 'always-failing',
      args: [10, 'x'],
      retry,
    });
    const error = await failureOf(handle);
    const cause = error.cause as ApplicationFailure;
    assert.equal(cause instanceof ApplicationFailure, true, String(cause));
    assert.equal(cause.message, 'attempt 3 failed');
    assert.equal(cause.type, 'Flaky');
    assert.equal(error.retryState, RetryState.MAXIMUM_ATTEMPTS_REACHED);
    const runs = await runsOf(env.client, 'always-failing');
    assert.equal(runs.length, 3);
    const last = (await closingEvent(
      env.client,
      'always-failing',
      runs[2]!,
    )) as HistoryEvent<'WorkflowExecutionFailed'>;
    assert.equal(last.attributes.newExecutionRunId, undefined);
    assert.equal(last.attributes.retryState, RetryState.MAXIMUM_ATTEMPTS_REACHED);
  });
});

test('a child with a retry policy is retried as new runs; the parent gets the result of the last one', async () => {
  await withTimeSkipping(async (env) => {
    const handle = await env.client.workflow.start(workflows.parentOfFlakyChild, {
      taskQueue: QUEUE,
      workflowId: 'flaky-parent',
    });
    assert.deepEqual(await within(10_000, 'result', handle.result()), {
      attempt: 2,
      label: 'child input',
    });
    const runs = await runsOf(env.client, 'flaky-parent-child');
    assert.equal(runs.length, 2);
    const events = await historyOf(handle);
    const [started] = eventsOfType(events, 'ChildWorkflowExecutionStarted');
    assert.equal(started?.attributes.runId, runs[0]);
    assert.equal(eventsOfType(events, 'ChildWorkflowExecutionFailed').length, 0);
    const [completed] = eventsOfType(events, 'ChildWorkflowExecutionCompleted');
    assert.equal(completed?.attributes.runId, runs[1]);
    const retried = await env.client.workflow.getHandle('flaky-parent-child', runs[1]).describe();
    assert.equal(retried.parent?.workflowId, 'flaky-parent');
  });
});

test('a non-retryable failure is not retried despite the retry policy', async () => {
  await withTimeSkipping(async (env) => {
    const handle = await env.client.workflow.start(workflows.failsWith, {
      taskQueue: QUEUE,
      workflowId: 'non-retryable',
      args: ['fatal'],
      retry,
    });
    const error = await failureOf(handle);
    assert.equal((error.cause as ApplicationFailure).type, 'Planned');
    assert.equal(error.retryState, RetryState.NON_RETRYABLE_FAILURE);
    assert.equal((await runsOf(env.client, 'non-retryable')).length, 1);
  });
});

test(
  'a run that times out is retried by the workflow retry policy, with the same input',
  {},
  async () => {
    await withTimeSkipping(async (env) => {
      const handle = await env.client.workflow.start(workflows.slowOnFirstAttempt, {
        taskQueue: QUEUE,
        workflowId: 'retried-timeout',
        args: ['kept'],
        workflowRunTimeout: '1 hour',
        retry,
      });
      const runs = await runsOf(env.client, 'retried-timeout');
      const result = await within(10_000, 'result', handle.result());
      const all = await runsOf(env.client, 'retried-timeout');
      assert.equal(all.length, 2);
      const first = (await closingEvent(
        env.client,
        'retried-timeout',
        runs[0]!,
      )) as HistoryEvent<'WorkflowExecutionTimedOut'>;
      assert.equal(first.eventType, 'WorkflowExecutionTimedOut');
      assert.equal(first.attributes.retryState, RetryState.IN_PROGRESS);
      assert.equal(first.attributes.newExecutionRunId, all[1]);
      assert.deepEqual(result, { attempt: 2, label: 'kept' });
    });
  },
);

// ---- id reuse policies (real clock) ----

async function setup(env: TestEnv): Promise<void> {
  await env.startWorker({
    workflows,
    activities: createCompositionActivities(new ActivityProbe()),
  });
}

function rejectsAsAlreadyStarted(promise: Promise<unknown>, pattern?: RegExp): Promise<void> {
  return assert.rejects(promise, (error: unknown) => {
    assert.equal(error instanceof WorkflowExecutionAlreadyStartedError, true, String(error));
    if (pattern) assert.match((error as Error).message, pattern);
    return true;
  });
}

test('id reuse ALLOW_DUPLICATE (the default): a closed id starts a new run, whatever the outcome', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const opts = { taskQueue: env.taskQueue, workflowId: 'reuse-allow' };
    assert.equal(
      await env.client.workflow.execute(workflows.quick, { ...opts, args: ['one'] }),
      'one',
    );
    const failed = await env.client.workflow.start(workflows.failsWith, { ...opts, args: ['x'] });
    await failureOf(failed);
    const third = await env.client.workflow.start(workflows.quick, {
      ...opts,
      args: ['three'],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
    assert.equal(await third.result(), 'three');
    assert.equal((await runsOf(env.client, 'reuse-allow')).length, 3);
  });
});

test('id reuse ALLOW_DUPLICATE_FAILED_ONLY: refused after a completed run, allowed after a failed, cancelled or terminated one', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const policy = { workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY' } as const;
    const completed = { taskQueue: env.taskQueue, workflowId: 'failed-only-completed' };
    await env.client.workflow.execute(workflows.quick, { ...completed, args: ['done'] });
    await rejectsAsAlreadyStarted(
      env.client.workflow.start(workflows.quick, { ...completed, args: ['again'], ...policy }),
      /Completed.*ALLOW_DUPLICATE_FAILED_ONLY/,
    );
    assert.equal((await runsOf(env.client, completed.workflowId)).length, 1);

    const failed = { taskQueue: env.taskQueue, workflowId: 'failed-only-failed' };
    await failureOf(
      await env.client.workflow.start(workflows.failsWith, { ...failed, args: ['x'] }),
    );
    const retried = await env.client.workflow.start(workflows.quick, {
      ...failed,
      args: ['second chance'],
      ...policy,
    });
    assert.equal(await retried.result(), 'second chance');

    for (const [id, stop] of [
      ['failed-only-cancelled', (h: WorkflowHandle) => h.cancel()],
      ['failed-only-terminated', (h: WorkflowHandle) => h.terminate('stop')],
    ] as const) {
      const opts = { taskQueue: env.taskQueue, workflowId: id };
      const h = await env.client.workflow.start(workflows.sleepsFor, { ...opts, args: ['1 day'] });
      await waitForEvent(h, 'TimerStarted');
      await stop(h);
      await failureOf(h);
      const again = await env.client.workflow.start(workflows.quick, {
        ...opts,
        args: ['allowed'],
        ...policy,
      });
      assert.equal(await again.result(), 'allowed');
    }
  });
});

test('id reuse REJECT_DUPLICATE: a closed id is never used again', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const opts = { taskQueue: env.taskQueue, workflowId: 'reject-dup' };
    await failureOf(await env.client.workflow.start(workflows.failsWith, { ...opts, args: ['x'] }));
    await rejectsAsAlreadyStarted(
      env.client.workflow.start(workflows.quick, {
        ...opts,
        args: ['no'],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      }),
      /REJECT_DUPLICATE/,
    );
    assert.equal((await runsOf(env.client, 'reject-dup')).length, 1);
  });
});

test('id reuse TERMINATE_IF_RUNNING: the running run is terminated and a new one starts', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const opts = { taskQueue: env.taskQueue, workflowId: 'terminate-if-running' };
    const old = await env.client.workflow.start(workflows.sleepsFor, { ...opts, args: ['1 day'] });
    await waitForEvent(old, 'TimerStarted');
    const fresh = await env.client.workflow.start(workflows.quick, {
      ...opts,
      args: ['fresh'],
      workflowIdReusePolicy: 'TERMINATE_IF_RUNNING',
    });
    assert.notEqual(fresh.firstExecutionRunId, old.firstExecutionRunId);
    assert.equal(await within(10_000, 'result', fresh.result()), 'fresh');
    const oldHandle = env.client.workflow.getHandle(
      'terminate-if-running',
      old.firstExecutionRunId,
    );
    assert.equal((await oldHandle.describe()).status.name, 'Terminated');
    const error = await failureOf(oldHandle);
    assert.equal(error.cause instanceof TerminatedFailure, true, String(error.cause));
    assert.equal((await historyOf(oldHandle)).at(-1)!.eventType, 'WorkflowExecutionTerminated');
    assert.deepEqual(await runsOf(env.client, 'terminate-if-running'), [
      old.firstExecutionRunId,
      fresh.firstExecutionRunId,
    ]);
  });
});

// ---- id conflict policies (real clock) ----

test('id conflict FAIL (the default): starting a running id throws WorkflowExecutionAlreadyStartedError', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const opts = {
      taskQueue: env.taskQueue,
      workflowId: 'conflict-fail',
      args: ['1 day'] as [string],
    };
    const first = await env.client.workflow.start(workflows.sleepsFor, opts);
    await rejectsAsAlreadyStarted(env.client.workflow.start(workflows.sleepsFor, opts));
    await rejectsAsAlreadyStarted(
      env.client.workflow.start(workflows.sleepsFor, { ...opts, workflowIdConflictPolicy: 'FAIL' }),
    );
    assert.deepEqual(await runsOf(env.client, 'conflict-fail'), [first.firstExecutionRunId]);
    assert.equal((await first.describe()).status.name, 'Running');
  });
});

test('id conflict USE_EXISTING: returns a handle to the running run, no second run', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const opts = { taskQueue: env.taskQueue, workflowId: 'use-existing' };
    const first = await env.client.workflow.start(workflows.waitsForProceed, opts);
    const second = await env.client.workflow.start(workflows.waitsForProceed, {
      ...opts,
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    assert.equal(second.firstExecutionRunId, first.firstExecutionRunId);
    assert.deepEqual(await runsOf(env.client, 'use-existing'), [first.firstExecutionRunId]);
    const events = await historyOf(first);
    assert.equal(eventsOfType(events, 'WorkflowExecutionStarted').length, 1);
    await second.signal(workflows.proceed, 'via the second handle');
    assert.equal(await within(10_000, 'result', first.result()), 'child got via the second handle');
    assert.equal(await second.result(), 'child got via the second handle');
  });
});

test('id conflict TERMINATE_EXISTING: the running run is terminated, a new one starts', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const opts = { taskQueue: env.taskQueue, workflowId: 'terminate-existing' };
    const first = await env.client.workflow.start(workflows.waitsForProceed, opts);
    const second = await env.client.workflow.start(workflows.quick, {
      ...opts,
      args: ['replacement'],
      workflowIdConflictPolicy: 'TERMINATE_EXISTING',
    });
    assert.notEqual(second.firstExecutionRunId, first.firstExecutionRunId);
    assert.equal(await within(10_000, 'result', second.result()), 'replacement');
    const error = await failureOf(first);
    assert.equal(error.cause instanceof TerminatedFailure, true, String(error.cause));
    const firstRun = env.client.workflow.getHandle('terminate-existing', first.firstExecutionRunId);
    const last = (await historyOf(firstRun)).at(-1) as HistoryEvent<'WorkflowExecutionTerminated'>;
    assert.equal(last.eventType, 'WorkflowExecutionTerminated');
    assert.match(last.attributes.reason ?? '', /new start/);
    assert.equal((await runsOf(env.client, 'terminate-existing')).length, 2);
  });
});

test(
  'a handle from start() does not terminate or cancel a later run of the same id started by someone else',
  {},
  async () => {
    await withTestEnv(async (env) => {
      await setup(env);
      const opts = { taskQueue: env.taskQueue, workflowId: 'stale-handle' };
      const stale = await env.client.workflow.start(workflows.quick, { ...opts, args: ['old'] });
      assert.equal(await stale.result(), 'old');
      const current = await env.client.workflow.start(workflows.waitsForProceed, opts);
      await assert.rejects(stale.terminate('meant for the old run'));
      await assert.rejects(stale.cancel());
      assert.equal((await current.describe()).status.name, 'Running');
      await current.signal(workflows.proceed, 'still alive');
      assert.equal(await within(10_000, 'result', current.result()), 'child got still alive');
    });
  },
);

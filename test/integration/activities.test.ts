/**
 * Activities end to end: arguments and results, retries and their backoff, failure conversion and
 * the failure chain as the workflow and the client see it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ActivityFailure, ApplicationFailure, RetryState, WorkflowFailedError } from 'keel/client';
import { withTestEnv, type TestEnv } from '../helpers/env.ts';
import * as workflows from '../fixtures/activities-workflows.ts';
import { createActivities } from '../fixtures/activities-activities.ts';
import {
  ActivityProbe,
  eventsOfType,
  historyOf,
  waitFor,
  withOwnWorkers,
  within,
} from '../fixtures/integration-support.ts';
import type { FailureSummary } from '../fixtures/activities-workflows.ts';

async function setup(env: TestEnv): Promise<ActivityProbe> {
  const probe = new ActivityProbe();
  await env.startWorker({ workflows, activities: createActivities(probe) });
  return probe;
}

/** Runs `callActivityCatching` and returns the handle and what the workflow returned. */
async function callCatching(
  env: TestEnv,
  workflowId: string,
  name: string,
  args: unknown[],
  options: Parameters<typeof workflows.callActivityCatching>[2],
) {
  const handle = await env.client.workflow.start(workflows.callActivityCatching, {
    taskQueue: env.taskQueue,
    workflowId,
    args: [name, args, options],
  });
  return { handle, outcome: await handle.result() };
}

function failureOf(
  outcome: { ok: true; result: unknown } | { ok: false; failure: FailureSummary },
) {
  assert.equal(outcome.ok, false, `expected a failure, got ${JSON.stringify(outcome)}`);
  return (outcome as { failure: FailureSummary }).failure;
}

test('arguments and results round-trip through the history unchanged', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const nested = { list: [1, 'two', { three: [3] }, null, true], flag: false, nothing: null };
    const result = await env.client.workflow.execute(workflows.roundTrip, {
      taskQueue: env.taskQueue,
      workflowId: 'round-trip',
      args: ['héllo wörld ✓', 21, nested],
    });
    assert.deepEqual(result, {
      combined: { text: 'HÉLLO WÖRLD ✓', n: 42, nested, rest: ['x', 'y'], count: 5 },
      nothingIsUndefined: true,
    });
    // The activity received exactly what the workflow passed, rest arguments included.
    assert.deepEqual(probe.of('combine')[0]!.args, ['héllo wörld ✓', 21, nested, 'x', 'y']);
    const events = await historyOf(env.client.workflow.getHandle('round-trip'));
    const scheduled = eventsOfType(events, 'ActivityTaskScheduled');
    assert.deepEqual(
      scheduled.map((e) => e.attributes.activityType),
      ['combine', 'returnsNothing'],
    );
    assert.deepEqual(scheduled[0]!.attributes.input, ['héllo wörld ✓', 21, nested, 'x', 'y']);
    const completed = eventsOfType(events, 'ActivityTaskCompleted');
    assert.equal(completed.length, 2);
    assert.equal((completed[0]!.attributes.result as { n: number }).n, 42);
  });
});

test('an activity that fails twice is retried and succeeds on attempt 3; only the last attempt is in the history', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(workflows.callActivity, {
      taskQueue: env.taskQueue,
      workflowId: 'flaky',
      args: ['flaky', [2], { startToCloseTimeout: '10s', retry: { initialInterval: 20 } }],
    });
    assert.equal(await handle.result(), 3);
    assert.deepEqual(
      probe.of('flaky').map((a) => a.attempt),
      [1, 2, 3],
    );
    const events = await historyOf(handle);
    const started = eventsOfType(events, 'ActivityTaskStarted');
    assert.equal(started.length, 1);
    assert.equal(started[0]!.attributes.attempt, 3);
    // The last failure is kept on the Started event, as in Temporal.
    assert.equal(started[0]!.attributes.lastFailure?.message, 'attempt 2 failed');
    const types = events.map((e) => e.eventType);
    assert.ok(!types.includes('ActivityTaskFailed'), types.join(', '));
    assert.ok(!types.includes('ActivityTaskTimedOut'), types.join(', '));
    assert.equal(eventsOfType(events, 'ActivityTaskCompleted')[0]!.attributes.result, 3);
  });
});

test('retry backoff grows by the backoff coefficient', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    await env.client.workflow.execute(workflows.callActivity, {
      taskQueue: env.taskQueue,
      workflowId: 'backoff',
      args: [
        'flaky',
        [3],
        { startToCloseTimeout: '10s', retry: { initialInterval: 100, backoffCoefficient: 2 } },
      ],
    });
    const times = probe.of('flaky').map((a) => a.startedAt!);
    assert.equal(times.length, 4);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    const nominal = [100, 200, 400];
    gaps.forEach((gap, i) => {
      assert.ok(gap >= nominal[i]!, `gap ${i + 1} is ${gap} ms, expected at least ${nominal[i]}`);
      assert.ok(gap < nominal[i]! + 1500, `gap ${i + 1} is ${gap} ms, far above ${nominal[i]}`);
    });
    assert.ok(gaps[2]! > gaps[0]!, `gaps do not grow: ${gaps.join(', ')}`);
  });
});

test('maximumAttempts reached: the workflow sees ActivityFailure ← ApplicationFailure with type, message, details and the original stack', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const { handle, outcome } = await callCatching(env, 'max-attempts', 'alwaysFails', [], {
      startToCloseTimeout: '10s',
      retry: { initialInterval: 20, maximumAttempts: 3 },
    });
    const failure = failureOf(outcome);
    assert.equal(failure.kind, 'ActivityFailure');
    assert.equal(failure.retryState, RetryState.MAXIMUM_ATTEMPTS_REACHED);
    assert.equal(failure.activityType, 'alwaysFails');
    const cause = failure.cause!;
    assert.equal(cause.kind, 'ApplicationFailure');
    assert.equal(cause.type, 'AlwaysFails');
    assert.equal(cause.message, 'always fails');
    assert.equal(cause.nonRetryable, false);
    assert.deepEqual(cause.details, [{ code: 42 }, 'second detail']);
    assert.match(cause.stack ?? '', /alwaysFails/, 'the stack is the one thrown in the activity');
    assert.deepEqual(
      probe.of('alwaysFails').map((a) => a.attempt),
      [1, 2, 3],
    );
    const events = await historyOf(handle);
    const failed = eventsOfType(events, 'ActivityTaskFailed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.attributes.retryState, RetryState.MAXIMUM_ATTEMPTS_REACHED);
    assert.equal(failed[0]!.attributes.failure.applicationFailureInfo?.type, 'AlwaysFails');
    assert.deepEqual(
      eventsOfType(events, 'ActivityTaskStarted').map((e) => e.attributes.attempt),
      [3],
    );
  });
});

test('a workflow that rethrows the activity failure fails; the client gets WorkflowFailedError ← ActivityFailure ← ApplicationFailure', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const handle = await env.client.workflow.start(workflows.callActivity, {
      taskQueue: env.taskQueue,
      workflowId: 'rethrow',
      args: ['alwaysFails', [], { startToCloseTimeout: '10s', retry: { maximumAttempts: 1 } }],
    });
    const error = await handle.result().then(
      () => assert.fail('the workflow should have failed'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof WorkflowFailedError, String(error));
    const activityFailure = error.cause;
    assert.ok(activityFailure instanceof ActivityFailure, String(activityFailure));
    assert.equal(activityFailure.activityType, 'alwaysFails');
    assert.equal(activityFailure.retryState, RetryState.MAXIMUM_ATTEMPTS_REACHED);
    const appFailure = activityFailure.cause;
    assert.ok(appFailure instanceof ApplicationFailure, String(appFailure));
    assert.equal(appFailure.type, 'AlwaysFails');
    assert.equal(appFailure.message, 'always fails');
    assert.deepEqual(appFailure.details, [{ code: 42 }, 'second detail']);
    assert.match(appFailure.stack ?? '', /alwaysFails/);
    assert.equal((await handle.describe()).status.name, 'Failed');
    const last = (await historyOf(handle)).at(-1)!;
    assert.equal(last.eventType, 'WorkflowExecutionFailed');
  });
});

test('a nonRetryable ApplicationFailure is not retried', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const { outcome } = await callCatching(env, 'non-retryable', 'failsNonRetryable', [], {
      startToCloseTimeout: '10s',
      retry: { initialInterval: 20, maximumAttempts: 10 },
    });
    const failure = failureOf(outcome);
    assert.equal(failure.retryState, RetryState.NON_RETRYABLE_FAILURE);
    assert.equal(failure.cause?.type, 'Fatal');
    assert.equal(failure.cause?.nonRetryable, true);
    assert.deepEqual(failure.cause?.details, [{ why: 'because' }]);
    assert.equal(probe.of('failsNonRetryable').length, 1);
  });
});

test('failures whose type is in nonRetryableErrorTypes stop at once, plain errors matched by name', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const retry = {
      initialInterval: 20,
      maximumAttempts: 10,
      nonRetryableErrorTypes: ['Fatal', 'ValidationError'],
    };
    const typed = await callCatching(env, 'typed-fatal', 'failsWithType', ['Fatal'], {
      startToCloseTimeout: '10s',
      retry,
    });
    assert.equal(failureOf(typed.outcome).retryState, RetryState.NON_RETRYABLE_FAILURE);
    assert.equal(probe.of('failsWithType').length, 1);

    const plain = await callCatching(env, 'plain-fatal', 'throwsValidationError', [], {
      startToCloseTimeout: '10s',
      retry,
    });
    assert.equal(failureOf(plain.outcome).retryState, RetryState.NON_RETRYABLE_FAILURE);
    assert.equal(probe.of('throwsValidationError').length, 1);

    // A type not in the list is retried.
    const other = await callCatching(env, 'typed-other', 'failsWithType', ['Transient'], {
      startToCloseTimeout: '10s',
      retry: { ...retry, maximumAttempts: 3 },
    });
    assert.equal(failureOf(other.outcome).retryState, RetryState.MAXIMUM_ATTEMPTS_REACHED);
    assert.equal(probe.of('failsWithType').filter((a) => a.workflowId === 'typed-other').length, 3);
  });
});

test('nextRetryDelay of a failure overrides the retry policy backoff', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const result = await env.client.workflow.execute(workflows.callActivity, {
      taskQueue: env.taskQueue,
      workflowId: 'next-retry-delay',
      args: [
        'failsWithNextRetryDelay',
        [600],
        { startToCloseTimeout: '10s', retry: { initialInterval: 10, maximumInterval: 10 } },
      ],
    });
    assert.equal(result, 2);
    const [first, second] = probe.of('failsWithNextRetryDelay');
    const gap = second!.startedAt! - first!.startedAt!;
    assert.ok(gap >= 600, `retried after ${gap} ms, before the requested 600 ms`);
    assert.ok(gap < 600 + 1500, `retried after ${gap} ms`);
  });
});

test('a plain Error thrown by an activity becomes an ApplicationFailure typed by its name', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const options = { startToCloseTimeout: '10s', retry: { maximumAttempts: 1 } };
    const validation = failureOf(
      (await callCatching(env, 'plain-validation', 'throwsValidationError', [], options)).outcome,
    );
    assert.equal(validation.cause?.kind, 'ApplicationFailure');
    assert.equal(validation.cause?.type, 'ValidationError');
    assert.equal(validation.cause?.message, 'the input is invalid');
    assert.equal(validation.cause?.nonRetryable, false);
    assert.match(validation.cause?.stack ?? '', /throwsValidationError/);

    const typeError = failureOf(
      (await callCatching(env, 'plain-type-error', 'throwsTypeError', [], options)).outcome,
    );
    assert.equal(typeError.cause?.kind, 'ApplicationFailure');
    assert.equal(typeError.cause?.type, 'TypeError');
    assert.match(typeError.cause?.message ?? '', /undefined/);
  });
});

test('parallel activities (Promise.all) all run, at the same time', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(workflows.parallel, {
      taskQueue: env.taskQueue,
      workflowId: 'parallel',
      args: [5, 300],
    });
    assert.deepEqual(await handle.result(), [0, 1, 2, 3, 4]);
    assert.equal(probe.of('slowEcho').length, 5);
    assert.equal(probe.maxRunning, 5, 'the five attempts overlapped');
    const events = await historyOf(handle);
    const scheduled = eventsOfType(events, 'ActivityTaskScheduled');
    assert.equal(scheduled.length, 5);
    assert.equal(new Set(scheduled.map((e) => e.attributes.activityId)).size, 5);
    assert.equal(eventsOfType(events, 'ActivityTaskCompleted').length, 5);
  });
});

test(
  'results of parallel activities that arrive while the workflow task waits for a worker are delivered without failing the task',
  {},
  async () => {
    await withTestEnv(async (env) => {
      const probe = new ActivityProbe();
      const activities = createActivities(probe);
      await withOwnWorkers(env, async (startWorker) => {
        // Schedule two activities, then take the workflow worker away while they complete.
        const first = await startWorker({ workflows });
        const handle = await env.client.workflow.start(workflows.parallel, {
          taskQueue: env.taskQueue,
          workflowId: 'results-before-claim',
          args: [2, 0],
        });
        await waitFor('two scheduled activities', async () => {
          const events = await historyOf(handle);
          return eventsOfType(events, 'ActivityTaskScheduled').length === 2;
        });
        await first.stop();
        await startWorker({ activities });
        await waitFor('two completed activities', async () => {
          const events = await historyOf(handle);
          return eventsOfType(events, 'ActivityTaskCompleted').length === 2;
        });
        // History now: ..., Completed(1), WorkflowTaskScheduled, Started(2), Completed(2).
        await startWorker({ workflows });
        assert.deepEqual(await within(10_000, 'result', handle.result()), [0, 1]);
        const failed = eventsOfType(await historyOf(handle), 'WorkflowTaskFailed');
        assert.equal(
          failed.length,
          0,
          `workflow task failed: ${failed.map((e) => e.attributes.failure.message).join('; ')}`,
        );
      });
    });
  },
);

test('an unregistered activity fails with a message naming it and the registered ones, per the retry policy', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const { handle, outcome } = await callCatching(env, 'unregistered', 'notRegistered', [1], {
      startToCloseTimeout: '10s',
      retry: { initialInterval: 20, maximumAttempts: 2 },
    });
    const failure = failureOf(outcome);
    assert.equal(failure.retryState, RetryState.MAXIMUM_ATTEMPTS_REACHED);
    assert.equal(failure.activityType, 'notRegistered');
    assert.equal(failure.cause?.kind, 'ApplicationFailure');
    assert.match(failure.cause?.message ?? '', /'notRegistered'/);
    assert.match(failure.cause?.message ?? '', /registered: .*\becho\b/);
    assert.match(failure.cause?.message ?? '', /\bflaky\b/);
    assert.equal(probe.attempts.length, 0);
    const started = eventsOfType(await historyOf(handle), 'ActivityTaskStarted');
    assert.equal(started[0]?.attributes.attempt, 2);
  });
});

test('an unregistered activity keeps being retried: describe() shows its attempt growing', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const handle = await env.client.workflow.start(workflows.callActivity, {
      taskQueue: env.taskQueue,
      workflowId: 'unregistered-forever',
      args: [
        'notRegistered',
        [],
        { startToCloseTimeout: '10s', retry: { initialInterval: 30, maximumInterval: 60 } },
      ],
    });
    const pending = await waitFor('the unregistered activity to reach attempt 4', async () => {
      const [activity] = (await handle.describe()).pendingActivities;
      return activity && activity.attempt >= 4 ? activity : undefined;
    });
    assert.equal(pending.activityType, 'notRegistered');
    assert.match(pending.lastFailureMessage ?? '', /'notRegistered' is not registered/);
    assert.equal((await handle.describe()).status.name, 'Running');
    await handle.terminate('test over');
  });
});

test('an activity returning a function or a BigInt fails at once with a clear message', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const options = { startToCloseTimeout: '10s', retry: { initialInterval: 20 } };
    const fn = failureOf(
      (await callCatching(env, 'returns-function', 'returnsFunction', [], options)).outcome,
    );
    assert.equal(fn.retryState, RetryState.NON_RETRYABLE_FAILURE);
    assert.equal(fn.cause?.type, 'PayloadError');
    assert.match(fn.cause?.message ?? '', /result of activity 'returnsFunction'/);
    assert.match(fn.cause?.message ?? '', /'callback' is a function/);
    assert.equal(probe.of('returnsFunction').length, 1);

    const big = failureOf(
      (await callCatching(env, 'returns-bigint', 'returnsBigInt', [], options)).outcome,
    );
    assert.equal(big.retryState, RetryState.NON_RETRYABLE_FAILURE);
    assert.match(big.cause?.message ?? '', /result of activity 'returnsBigInt'/);
    assert.match(big.cause?.message ?? '', /'total' is a BigInt/);
    assert.equal(probe.of('returnsBigInt').length, 1);
  });
});

/**
 * Activity and workflow timeouts end to end, with short real durations. Every test waits for an
 * outcome (a result, an event the activity resolves), never for a fixed time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CancelledFailure,
  RetryState,
  TimeoutFailure,
  TimeoutType,
  WorkflowFailedError,
} from 'keel/client';
import { withTestEnv, type TestEnv } from '../helpers/env.ts';
import * as activityWorkflows from '../fixtures/activities-workflows.ts';
import * as timeoutWorkflows from '../fixtures/timeouts-workflows.ts';
import type { FailureSummary } from '../fixtures/activities-workflows.ts';
import { createTimeoutActivities, type CancellationSeen } from '../fixtures/timeouts-activities.ts';
import {
  ActivityProbe,
  Deferred,
  eventsOfType,
  historyOf,
  within,
} from '../fixtures/integration-support.ts';
import { Context } from 'keel/activity';
import type { Store } from 'keel/worker';

const workflows = { ...activityWorkflows, ...timeoutWorkflows };

async function setup(env: TestEnv): Promise<ActivityProbe> {
  const probe = new ActivityProbe();
  await env.startWorker({ workflows, activities: createTimeoutActivities(probe) });
  return probe;
}

type Options = Parameters<typeof activityWorkflows.callActivityCatching>[2];

async function callCatching(
  env: TestEnv,
  workflowId: string,
  name: string,
  args: unknown[],
  options: Options,
) {
  const handle = await env.client.workflow.start(activityWorkflows.callActivityCatching, {
    taskQueue: env.taskQueue,
    workflowId,
    args: [name, args, options],
  });
  return { handle, outcome: await within(15_000, `workflow ${workflowId}`, handle.result()) };
}

function failureOf(
  outcome: { ok: true; result: unknown } | { ok: false; failure: FailureSummary },
) {
  assert.equal(outcome.ok, false, `expected a failure, got ${JSON.stringify(outcome)}`);
  return (outcome as { failure: FailureSummary }).failure;
}

test('start-to-close timeout fires and the activity is retried: hangs on attempt 1, succeeds on attempt 2', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(activityWorkflows.callActivity, {
      taskQueue: env.taskQueue,
      workflowId: 'start-to-close-retry',
      args: [
        'hangsOnFirstAttempt',
        [],
        { startToCloseTimeout: 300, retry: { initialInterval: 50 } },
      ],
    });
    assert.equal(await within(10_000, 'result', handle.result()), 'ok on attempt 2');
    const [first, second] = probe.of('hangsOnFirstAttempt');
    const gap = second!.startedAt! - first!.startedAt!;
    assert.ok(gap >= 300 + 50, `retried ${gap} ms after the first attempt started`);
    const seen = await probe.event<CancellationSeen>('hangsOnFirstAttempt:cancelled:1').promise;
    assert.equal(seen.reason, 'TIMED_OUT');

    const events = await historyOf(handle);
    const started = eventsOfType(events, 'ActivityTaskStarted');
    assert.deepEqual(
      started.map((e) => e.attributes.attempt),
      [2],
    );
    assert.equal(
      started[0]!.attributes.lastFailure?.timeoutFailureInfo?.timeoutType,
      TimeoutType.START_TO_CLOSE,
    );
    assert.equal(eventsOfType(events, 'ActivityTaskTimedOut').length, 0);
    assert.equal(eventsOfType(events, 'ActivityTaskFailed').length, 0);
  });
});

test('a timed-out activity learns it: its cancellationSignal aborts with reason TIMED_OUT', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const { handle, outcome } = await callCatching(env, 'learns-timeout', 'alwaysHangs', [], {
      startToCloseTimeout: 300,
      retry: { maximumAttempts: 1 },
    });
    const seen = await within(
      5_000,
      'the activity to see its cancellation',
      probe.event<CancellationSeen>('alwaysHangs:cancelled:1').promise,
    );
    assert.equal(seen.reason, 'TIMED_OUT');
    assert.ok(seen.signalReason instanceof CancelledFailure, String(seen.signalReason));
    assert.ok(seen.afterMs >= 290 && seen.afterMs < 2000, `aborted after ${seen.afterMs} ms`);

    const failure = failureOf(outcome);
    assert.equal(failure.kind, 'ActivityFailure');
    assert.equal(failure.retryState, RetryState.MAXIMUM_ATTEMPTS_REACHED);
    assert.equal(failure.cause?.kind, 'TimeoutFailure');
    assert.equal(failure.cause?.timeoutType, TimeoutType.START_TO_CLOSE);
    const events = await historyOf(handle);
    const timedOut = eventsOfType(events, 'ActivityTaskTimedOut');
    assert.equal(timedOut.length, 1);
    assert.equal(timedOut[0]!.attributes.failure.timeoutFailureInfo?.timeoutType, 'START_TO_CLOSE');
    // The engine timed the attempt out; the activity's own CancelledFailure was not reported over it.
    assert.equal(eventsOfType(events, 'ActivityTaskFailed').length, 0);
  });
});

test('heartbeat timeout fires as TimeoutFailure HEARTBEAT carrying the last heartbeat details', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const { handle, outcome } = await callCatching(
      env,
      'heartbeat-timeout',
      'heartbeatsThenHangs',
      [['a', 'b', 'c']],
      { startToCloseTimeout: '10s', heartbeatTimeout: 300, retry: { maximumAttempts: 1 } },
    );
    const failure = failureOf(outcome);
    assert.equal(failure.kind, 'ActivityFailure');
    assert.equal(failure.cause?.kind, 'TimeoutFailure');
    assert.equal(failure.cause?.timeoutType, TimeoutType.HEARTBEAT);
    assert.equal(failure.cause?.lastHeartbeatDetails, 'c');
    assert.equal(probe.of('heartbeatsThenHangs').length, 1);
    const timedOut = eventsOfType(await historyOf(handle), 'ActivityTaskTimedOut');
    assert.equal(timedOut.length, 1);
    assert.deepEqual(timedOut[0]!.attributes.failure.timeoutFailureInfo, {
      timeoutType: 'HEARTBEAT',
      lastHeartbeatDetails: 'c',
    });
  });
});

test('after a heartbeat timeout the next attempt sees the last heartbeat details', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const handle = await env.client.workflow.start(activityWorkflows.callActivity, {
      taskQueue: env.taskQueue,
      workflowId: 'heartbeat-resume',
      args: [
        'heartbeatsThenHangs',
        [['first', 'second', 'last']],
        {
          startToCloseTimeout: '10s',
          heartbeatTimeout: 300,
          retry: { initialInterval: 50, maximumAttempts: 2 },
        },
      ],
    });
    assert.deepEqual(await within(10_000, 'result', handle.result()), {
      attempt: 2,
      resumedFrom: 'last',
    });
    assert.deepEqual(
      probe.of('heartbeatsThenHangs').map((a) => a.heartbeatDetails),
      [undefined, 'last'],
    );
    const started = eventsOfType(await historyOf(handle), 'ActivityTaskStarted');
    assert.equal(started[0]!.attributes.attempt, 2);
    assert.equal(started[0]!.attributes.lastFailure?.timeoutFailureInfo?.timeoutType, 'HEARTBEAT');
  });
});

test(
  'an activity that keeps heartbeating is not timed out by its heartbeat timeout',
  {},
  async () => {
    await withTestEnv(async (env) => {
      const probe = await setup(env);
      const { outcome } = await callCatching(
        env,
        'keeps-heartbeating',
        'keepsHeartbeating',
        [1200, 50],
        { startToCloseTimeout: '10s', heartbeatTimeout: 400, retry: { maximumAttempts: 1 } },
      );
      const cancelled = probe.event<CancellationSeen>('keepsHeartbeating:cancelled:1');
      if (cancelled.settled) {
        assert.fail(`the attempt was cancelled: ${JSON.stringify(await cancelled.promise)}`);
      }
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.equal(probe.of('keepsHeartbeating').length, 1);
    });
  },
);

/**
 * A worker whose store holds the second heartbeat's transaction, and every one after it, in order,
 * until `release()`: a store that takes longer to record a heartbeat than the time left before the
 * deadline (the engine's expiry check waits its turn behind it). Its one activity heartbeats at
 * once (the deadline is then 2 s away), again 1.65 s later (held), and returns when released.
 */
async function heldSecondHeartbeat(env: TestEnv, workflowId: string) {
  let holdNext = false;
  let gate: Promise<void> | undefined;
  const recording = new Deferred();
  const release = new Deferred();
  const slowStore = new Proxy(env.store, {
    get(target, property) {
      if (property === 'transaction') {
        return async (...args: Parameters<Store['transaction']>) => {
          if (holdNext) {
            holdNext = false;
            gate = release.promise;
            recording.resolve();
          }
          if (gate) await gate;
          return target.transaction(...args);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const cancelled = new Deferred<{ reason: string | undefined; afterMs: number }>();
  let secondSentAt = 0;
  await env.startWorker({
    store: slowStore,
    workflows,
    activities: {
      async heartbeatsSlowlyRecorded(): Promise<string> {
        const ctx = Context.current();
        ctx.cancellationSignal.addEventListener('abort', () =>
          cancelled.resolve({
            reason: ctx.cancellationReason,
            afterMs: Date.now() - secondSentAt,
          }),
        );
        ctx.heartbeat(1);
        await ctx.sleep(1650); // the next heartbeat may go 1.6 s after the first
        holdNext = true;
        secondSentAt = Date.now();
        ctx.heartbeat(2);
        await recording.promise;
        await release.promise;
        return 'done';
      },
    },
  });
  const handle = await env.client.workflow.start(activityWorkflows.callActivityCatching, {
    taskQueue: env.taskQueue,
    workflowId,
    args: [
      'heartbeatsSlowlyRecorded',
      [],
      { startToCloseTimeout: '10s', heartbeatTimeout: 2000, retry: { maximumAttempts: 1 } },
    ],
  });
  await within(5_000, 'the second heartbeat to be sent', recording.promise);
  return { handle, cancelled, release: () => release.resolve() };
}

test('a heartbeat still being recorded at the deadline it would move does not time the attempt out', async () => {
  await withTestEnv(async (env) => {
    const { handle, cancelled, release } = await heldSecondHeartbeat(env, 'recorded-late');
    // 600 ms past the first heartbeat's deadline (2 s after it), 1.4 s before the second's.
    await new Promise((resolve) => setTimeout(resolve, 950));
    release();
    const outcome = await within(10_000, 'the result', handle.result());
    assert.deepEqual(outcome, { ok: true, result: 'done' });
    if (cancelled.settled)
      assert.fail(`the attempt was cancelled: ${JSON.stringify(await cancelled.promise)}`);
  });
});

test("a heartbeat the store never answers times the attempt out at that heartbeat's own deadline", async () => {
  await withTestEnv(async (env) => {
    const { handle, cancelled, release } = await heldSecondHeartbeat(env, 'never-recorded');
    try {
      const seen = await within(5_000, 'the attempt to be cancelled', cancelled.promise);
      assert.equal(seen.reason, 'TIMED_OUT');
      // Not at the first heartbeat's deadline (350 ms after the second was sent), nor never.
      assert.ok(seen.afterMs >= 1900, `cancelled ${seen.afterMs} ms after the held heartbeat`);
    } finally {
      release();
    }
    const failure = failureOf(await within(10_000, 'the result', handle.result()));
    assert.equal(failure.cause?.timeoutType, TimeoutType.HEARTBEAT);
  });
});

test('schedule-to-close bounds all retries: TimeoutFailure SCHEDULE_TO_CLOSE during a later attempt', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const { handle, outcome } = await callCatching(env, 's2c', 'failsThenHangs', [2], {
      scheduleToCloseTimeout: 800,
      startToCloseTimeout: '5s',
      retry: { initialInterval: 100, backoffCoefficient: 1 },
    });
    const failure = failureOf(outcome);
    assert.equal(failure.kind, 'ActivityFailure');
    assert.equal(failure.retryState, RetryState.TIMEOUT);
    assert.equal(failure.cause?.kind, 'TimeoutFailure');
    assert.equal(failure.cause?.timeoutType, TimeoutType.SCHEDULE_TO_CLOSE);
    assert.deepEqual(
      probe.of('failsThenHangs').map((a) => a.attempt),
      [1, 2, 3],
    );
    const seen = await probe.event<CancellationSeen>('failsThenHangs:cancelled:3').promise;
    assert.equal(seen.reason, 'TIMED_OUT');

    const events = await historyOf(handle);
    const scheduled = eventsOfType(events, 'ActivityTaskScheduled')[0]!;
    const timedOut = eventsOfType(events, 'ActivityTaskTimedOut');
    assert.equal(timedOut.length, 1);
    const elapsed = timedOut[0]!.eventTime - scheduled.eventTime;
    assert.ok(elapsed >= 800 && elapsed < 800 + 1500, `timed out ${elapsed} ms after scheduling`);
    assert.equal(timedOut[0]!.attributes.retryState, 'TIMEOUT');
  });
});

test('schedule-to-close stops retrying a failing activity when the next backoff would pass it', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const started = Date.now();
    // Attempts at about 0, 100 and 300 ms; the next (at 700) would pass the deadline. The last
    // attempt ends some 200 ms before the deadline: its failure, not the timeout, closes it.
    const { handle, outcome } = await callCatching(env, 's2c-fast', 'failsFast', [], {
      scheduleToCloseTimeout: 500,
      startToCloseTimeout: '5s',
      retry: { initialInterval: 100, backoffCoefficient: 2 },
    });
    const failure = failureOf(outcome);
    assert.equal(failure.retryState, RetryState.TIMEOUT);
    assert.equal(failure.cause?.kind, 'ApplicationFailure');
    const attempts = probe.of('failsFast').length;
    assert.equal(attempts, 3, `${attempts} attempts within 500 ms at 100, then 200 ms`);
    assert.ok(Date.now() - started < 500 + 2000);
    const failed = eventsOfType(await historyOf(handle), 'ActivityTaskFailed');
    assert.equal(failed[0]?.attributes.retryState, 'TIMEOUT');
  });
});

test('schedule-to-start fires when no worker polls the activity task queue, and is not retried', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const { handle, outcome } = await callCatching(env, 's2s', 'neverPolled', [], {
      taskQueue: `${env.taskQueue}-nobody-polls`,
      scheduleToStartTimeout: 300,
      startToCloseTimeout: '10s',
      retry: { initialInterval: 20, maximumAttempts: 5 },
    });
    const failure = failureOf(outcome);
    assert.equal(failure.kind, 'ActivityFailure');
    assert.equal(failure.retryState, RetryState.TIMEOUT);
    assert.equal(failure.cause?.kind, 'TimeoutFailure');
    assert.equal(failure.cause?.timeoutType, TimeoutType.SCHEDULE_TO_START);
    assert.equal(probe.attempts.length, 0);

    const events = await historyOf(handle);
    assert.equal(eventsOfType(events, 'ActivityTaskStarted').length, 0);
    const timedOut = eventsOfType(events, 'ActivityTaskTimedOut');
    assert.equal(timedOut.length, 1);
    assert.equal(timedOut[0]!.attributes.startedEventId, 0);
    const scheduled = eventsOfType(events, 'ActivityTaskScheduled')[0]!;
    const elapsed = timedOut[0]!.eventTime - scheduled.eventTime;
    assert.ok(elapsed >= 300 && elapsed < 300 + 1500, `timed out after ${elapsed} ms`);
  });
});

for (const kind of ['Run', 'Execution'] as const) {
  test(`workflow${kind}Timeout closes the run as TimedOut; result() throws WorkflowFailedError with a TimeoutFailure`, async () => {
    await withTestEnv(async (env) => {
      await setup(env);
      const started = Date.now();
      const handle = await env.client.workflow.start(timeoutWorkflows.sleepsFor, {
        taskQueue: env.taskQueue,
        workflowId: `workflow-${kind}-timeout`,
        args: [60_000],
        [`workflow${kind}Timeout`]: 500,
      });
      const error = await within(10_000, 'result', handle.result()).then(
        () => assert.fail('the run should have timed out'),
        (e: unknown) => e,
      );
      const elapsed = Date.now() - started;
      assert.ok(error instanceof WorkflowFailedError, String(error));
      assert.ok(error.cause instanceof TimeoutFailure, String(error.cause));
      assert.match(error.message, new RegExp(`${kind.toLowerCase()} timeout`));
      assert.equal(error.retryState, RetryState.TIMEOUT);
      assert.ok(elapsed >= 500 && elapsed < 500 + 2000, `closed after ${elapsed} ms`);
      assert.equal((await handle.describe()).status.name, 'TimedOut');
      const last = (await historyOf(handle)).at(-1)!;
      assert.equal(last.eventType, 'WorkflowExecutionTimedOut');
      assert.equal(
        (last as { attributes: { timeoutType: string } }).attributes.timeoutType,
        kind.toUpperCase(),
      );
    });
  });
}

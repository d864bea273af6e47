import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FailureInfo } from '../../src/common/failure-converter.ts';
import { compileRetryPolicy } from '../../src/common/retry-policy.ts';
import {
  firedTimeout,
  readyExpiry,
  runningExpiry,
  scheduleToCloseDeadline,
} from '../../src/state/activity-deadlines.ts';
import { decideRetry } from '../../src/state/retry.ts';
import type { ActivityTaskData } from '../../src/state/tasks.ts';
import { appFailure } from './harness.ts';

const policy = compileRetryPolicy({
  initialInterval: 1000,
  backoffCoefficient: 2,
  maximumInterval: 10_000,
  maximumAttempts: 0,
});
const err = appFailure('flaky', 'Flaky');

describe('decideRetry', () => {
  test('the delay grows by the backoff coefficient and is capped at maximumInterval', () => {
    const delays = [1, 2, 3, 4, 5, 6, 30].map((attempt) => {
      const decision = decideRetry(policy, attempt, err, 0, undefined);
      assert.equal(decision.retry, true);
      return decision.retry ? decision.delay : -1;
    });
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });

  test('a fractional coefficient gives whole-millisecond delays', () => {
    const p = compileRetryPolicy({ initialInterval: 1000, backoffCoefficient: 1.5 });
    assert.deepEqual(decideRetry(p, 3, err, 0, undefined), { retry: true, delay: 2250 });
    const q = compileRetryPolicy({ initialInterval: 333, backoffCoefficient: 1.3 });
    const d = decideRetry(q, 2, err, 0, undefined);
    assert.ok(d.retry && Number.isInteger(d.delay) && d.delay === 433);
  });

  test('maximumAttempts counts the first attempt; 0 means unlimited', () => {
    const three = compileRetryPolicy({ maximumAttempts: 3 });
    assert.equal(decideRetry(three, 1, err, 0, undefined).retry, true);
    assert.equal(decideRetry(three, 2, err, 0, undefined).retry, true);
    assert.deepEqual(decideRetry(three, 3, err, 0, undefined), {
      retry: false,
      retryState: 'MAXIMUM_ATTEMPTS_REACHED',
    });
    assert.deepEqual(
      decideRetry(compileRetryPolicy({ maximumAttempts: 1 }), 1, err, 0, undefined),
      {
        retry: false,
        retryState: 'MAXIMUM_ATTEMPTS_REACHED',
      },
    );
    assert.equal(decideRetry(policy, 10_000, err, 0, undefined).retry, true);
  });

  test('nonRetryable and listed error types stop at once, before the attempt count', () => {
    const listed = compileRetryPolicy({
      maximumAttempts: 5,
      nonRetryableErrorTypes: ['CardDeclined'],
    });
    const nonRetryable = { retry: false, retryState: 'NON_RETRYABLE_FAILURE' };
    assert.deepEqual(
      decideRetry(listed, 1, appFailure('x', 'CardDeclined'), 0, undefined),
      nonRetryable,
    );
    assert.deepEqual(
      decideRetry(listed, 1, appFailure('x', 'Other', { nonRetryable: true }), 0, undefined),
      nonRetryable,
    );
    assert.deepEqual(
      decideRetry(listed, 5, appFailure('x', 'Other', { nonRetryable: true }), 0, undefined),
      nonRetryable,
    );
    assert.equal(decideRetry(listed, 1, appFailure('x', 'Other'), 0, undefined).retry, true);
    // Type matching is exact.
    assert.equal(decideRetry(listed, 1, appFailure('x', 'carddeclined'), 0, undefined).retry, true);
    const server: FailureInfo = { message: 'no worker', serverFailureInfo: { nonRetryable: true } };
    assert.deepEqual(decideRetry(policy, 1, server, 0, undefined), nonRetryable);
    const retryableServer: FailureInfo = {
      message: 'busy',
      serverFailureInfo: { nonRetryable: false },
    };
    assert.equal(decideRetry(policy, 1, retryableServer, 0, undefined).retry, true);
  });

  test('nextRetryDelay of the failure replaces the computed delay (even above maximumInterval)', () => {
    assert.deepEqual(
      decideRetry(policy, 1, appFailure('x', 'E', { nextRetryDelay: 42 }), 0, undefined),
      { retry: true, delay: 42 },
    );
    assert.deepEqual(
      decideRetry(policy, 7, appFailure('x', 'E', { nextRetryDelay: 60_000 }), 0, undefined),
      { retry: true, delay: 60_000 },
    );
  });

  test('a retry that could not start before the schedule-to-close deadline is not made', () => {
    // now + delay must stay strictly before the deadline.
    assert.deepEqual(decideRetry(policy, 1, err, 5000, 6001), { retry: true, delay: 1000 });
    assert.deepEqual(decideRetry(policy, 1, err, 5000, 6000), {
      retry: false,
      retryState: 'TIMEOUT',
    });
    assert.deepEqual(decideRetry(policy, 3, err, 5000, 8000), {
      retry: false,
      retryState: 'TIMEOUT',
    });
    assert.deepEqual(
      decideRetry(policy, 1, appFailure('x', 'E', { nextRetryDelay: 5000 }), 0, 4000),
      { retry: false, retryState: 'TIMEOUT' },
    );
  });

  test('a failure without application info (a timeout) is retried per the policy', () => {
    const timeout: FailureInfo = {
      message: 't',
      timeoutFailureInfo: { timeoutType: 'START_TO_CLOSE' },
    };
    assert.deepEqual(decideRetry(policy, 2, timeout, 0, undefined), { retry: true, delay: 2000 });
    assert.deepEqual(decideRetry(policy, 2, undefined, 0, undefined), { retry: true, delay: 2000 });
  });
});

function data(overrides: Partial<ActivityTaskData> = {}): ActivityTaskData {
  return {
    workflowId: 'wf',
    workflowType: 'T',
    scheduledEventId: 5,
    activityId: 'a',
    activityType: 'x',
    input: [],
    scheduledTime: 1000,
    startToCloseTimeout: 10_000,
    retryPolicy: policy,
    attempt: 1,
    readyTime: 1000,
    ...overrides,
  };
}

describe('activity deadlines', () => {
  test('readyExpiry: schedule-to-start from the attempt becoming ready, or schedule-to-close', () => {
    assert.equal(readyExpiry(data()), undefined);
    assert.equal(readyExpiry(data({ scheduleToStartTimeout: 500 })), 1500);
    assert.equal(readyExpiry(data({ scheduleToStartTimeout: 500, readyTime: 4000 })), 4500);
    assert.equal(readyExpiry(data({ scheduleToCloseTimeout: 3000 })), 4000);
    assert.equal(
      readyExpiry(data({ scheduleToStartTimeout: 5000, scheduleToCloseTimeout: 3000 })),
      4000,
    );
    assert.equal(scheduleToCloseDeadline(data()), undefined);
  });

  test('runningExpiry: the earliest of start-to-close, heartbeat and schedule-to-close', () => {
    assert.equal(runningExpiry(data({ startedTime: 2000 })), 12_000);
    assert.equal(runningExpiry(data({ startedTime: 2000, heartbeatTimeout: 1000 })), 3000);
    assert.equal(
      runningExpiry(data({ startedTime: 2000, heartbeatTimeout: 1000, lastHeartbeatTime: 2500 })),
      3500,
    );
    assert.equal(runningExpiry(data({ startedTime: 2000, scheduleToCloseTimeout: 5000 })), 6000);
  });

  test('firedTimeout says which timeout fired', () => {
    // Not running: schedule-to-start unless schedule-to-close passed too.
    assert.equal(
      firedTimeout(data({ scheduleToStartTimeout: 100 }), 1100, false),
      'SCHEDULE_TO_START',
    );
    assert.equal(
      firedTimeout(data({ scheduleToStartTimeout: 100, scheduleToCloseTimeout: 100 }), 1100, false),
      'SCHEDULE_TO_CLOSE',
    );
    // Running.
    const running = data({ startedTime: 2000, heartbeatTimeout: 1000 });
    assert.equal(firedTimeout(running, 3000, true), 'HEARTBEAT');
    assert.equal(firedTimeout({ ...running, lastHeartbeatTime: 2900 }, 3900, true), 'HEARTBEAT');
    assert.equal(firedTimeout(data({ startedTime: 2000 }), 12_000, true), 'START_TO_CLOSE');
    // Heartbeat and start-to-close both passed: start-to-close is reported.
    assert.equal(firedTimeout(running, 12_000, true), 'START_TO_CLOSE');
    // Schedule-to-close wins over everything.
    assert.equal(
      firedTimeout({ ...running, scheduleToCloseTimeout: 2000 }, 3000, true),
      'SCHEDULE_TO_CLOSE',
    );
  });
});

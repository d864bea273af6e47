import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { optionalMs, toMs } from '../../src/common/duration.ts';
import { compileRetryPolicy } from '../../src/common/retry-policy.ts';
import { compileActivityOptions } from '../../src/runtime/activity-options.ts';

const namedTypeError = (name: string, value?: RegExp) => (error: unknown) =>
  error instanceof TypeError &&
  error.message.includes(`Invalid ${name}`) &&
  (value === undefined || value.test(error.message));

describe('toMs', () => {
  test('accepts numbers and ms-style strings', () => {
    assert.equal(toMs(0), 0);
    assert.equal(toMs(1500), 1500);
    assert.equal(toMs(1.6), 2);
    assert.equal(toMs('30s'), 30_000);
    assert.equal(toMs('5 minutes'), 300_000);
    assert.equal(toMs('1 day'), 86_400_000);
    assert.equal(toMs('2h'), 7_200_000);
    assert.equal(toMs('250ms'), 250);
    assert.equal(toMs('1.5s'), 1500);
    assert.equal(toMs('100'), 100);
  });

  test('rejects bad strings, negatives, NaN and Infinity with a TypeError naming the option', () => {
    assert.throws(
      () => toMs('soon', 'sleep() duration'),
      namedTypeError('sleep() duration', /"soon"/),
    );
    assert.throws(() => toMs('5 lightyears', 'timeout'), namedTypeError('timeout'));
    assert.throws(
      () => toMs('-5s', 'retry.initialInterval'),
      namedTypeError('retry.initialInterval', /"-5s"/),
    );
    assert.throws(
      () => toMs(-1, 'startToCloseTimeout'),
      namedTypeError('startToCloseTimeout', /-1/),
    );
    assert.throws(
      () => toMs(Number.NaN, 'heartbeatTimeout'),
      namedTypeError('heartbeatTimeout', /NaN/),
    );
    assert.throws(() => toMs(Infinity, 'x'), namedTypeError('x', /Infinity/));
    assert.throws(() => toMs(null as unknown as number, 'x'), namedTypeError('x', /null/));
    assert.throws(() => toMs({} as unknown as number, 'x'), namedTypeError('x'));
    assert.throws(() => toMs('soon'), namedTypeError('duration'));
    // The message says what would have been right.
    assert.throws(
      () => toMs('x', 'y'),
      /Expected a non-negative number of milliseconds or a string like '30s'/,
    );
  });

  test('rejects the empty string with the same TypeError naming the option', {}, () => {
    assert.throws(() => toMs('', 'sleep() duration'), namedTypeError('sleep() duration'));
  });

  test('optionalMs passes undefined through', () => {
    assert.equal(optionalMs(undefined, 'x'), undefined);
    assert.equal(optionalMs('1s', 'x'), 1000);
    assert.throws(
      () => optionalMs(-3, 'scheduleToCloseTimeout'),
      namedTypeError('scheduleToCloseTimeout'),
    );
  });
});

describe('compileRetryPolicy', () => {
  test("fills in Temporal's defaults", () => {
    assert.deepEqual(compileRetryPolicy(), {
      initialInterval: 1000,
      backoffCoefficient: 2,
      maximumInterval: 100_000,
      maximumAttempts: 0,
      nonRetryableErrorTypes: [],
    });
    assert.equal(compileRetryPolicy({ initialInterval: '3s' }).maximumInterval, 300_000);
  });

  test('converts durations and keeps given values', () => {
    assert.deepEqual(
      compileRetryPolicy({
        initialInterval: '500ms',
        backoffCoefficient: 1.5,
        maximumInterval: '1 minute',
        maximumAttempts: 5,
        nonRetryableErrorTypes: ['CardDeclined'],
      }),
      {
        initialInterval: 500,
        backoffCoefficient: 1.5,
        maximumInterval: 60_000,
        maximumAttempts: 5,
        nonRetryableErrorTypes: ['CardDeclined'],
      },
    );
  });

  test('rejects bad fields with a TypeError naming them', () => {
    const cases: [Parameters<typeof compileRetryPolicy>[0], RegExp][] = [
      [{ initialInterval: 0 }, /retry\.initialInterval: it must be greater than 0/],
      [{ initialInterval: 'later' }, /Invalid retry\.initialInterval: "later"/],
      [
        { backoffCoefficient: 0.5 },
        /retry\.backoffCoefficient: 0\.5\. It must be a number of at least 1/,
      ],
      [{ backoffCoefficient: Number.NaN }, /retry\.backoffCoefficient/],
      [
        { maximumInterval: '1s', initialInterval: '2s' },
        /retry\.maximumInterval: 1000 ms is less than retry\.initialInterval \(2000 ms\)/,
      ],
      [{ maximumInterval: -1 }, /Invalid retry\.maximumInterval/],
      [
        { maximumAttempts: -1 },
        /retry\.maximumAttempts: -1\. Use a whole number; 0 means unlimited/,
      ],
      [{ maximumAttempts: 2.5 }, /retry\.maximumAttempts: 2\.5/],
      [{ maximumAttempts: Infinity }, /retry\.maximumAttempts/],
      [
        { nonRetryableErrorTypes: 'CardDeclined' as unknown as string[] },
        /retry\.nonRetryableErrorTypes: expected an array of strings/,
      ],
      [{ nonRetryableErrorTypes: [1] as unknown as string[] }, /retry\.nonRetryableErrorTypes/],
    ];
    for (const [policy, message] of cases) {
      assert.throws(
        () => compileRetryPolicy(policy),
        (e: unknown) => e instanceof TypeError && message.test(e.message),
        JSON.stringify(policy),
      );
    }
  });
});

describe('compileActivityOptions', () => {
  test('requires startToCloseTimeout or scheduleToCloseTimeout', () => {
    for (const options of [{}, { startToCloseTimeout: 0 }, { heartbeatTimeout: '1s' }]) {
      assert.throws(
        () => compileActivityOptions(options),
        (e: unknown) =>
          e instanceof TypeError &&
          /need startToCloseTimeout or scheduleToCloseTimeout, e\.g\. proxyActivities\(\{ startToCloseTimeout: '1 minute' \}\)/.test(
            e.message,
          ),
      );
    }
    assert.throws(() => compileActivityOptions(null as never), /must be an object/);
  });

  test('compiles durations, the retry policy and the defaults', () => {
    assert.deepEqual(compileActivityOptions({ startToCloseTimeout: '30s' }), {
      startToCloseTimeout: 30_000,
      retry: compileRetryPolicy(),
      cancellationType: 'TRY_CANCEL',
    });
    assert.deepEqual(
      compileActivityOptions({
        taskQueue: 'payments',
        startToCloseTimeout: '1m',
        scheduleToStartTimeout: '10s',
        heartbeatTimeout: '5s',
        retry: { maximumAttempts: 3 },
        cancellationType: 'ABANDON',
        activityId: 'pay-1',
      }),
      {
        taskQueue: 'payments',
        startToCloseTimeout: 60_000,
        scheduleToStartTimeout: 10_000,
        heartbeatTimeout: 5000,
        retry: compileRetryPolicy({ maximumAttempts: 3 }),
        cancellationType: 'ABANDON',
        activityId: 'pay-1',
      },
    );
  });

  test('schedule-to-close alone sets start-to-close', () => {
    const compiled = compileActivityOptions({ scheduleToCloseTimeout: '2m' });
    assert.equal(compiled.startToCloseTimeout, 120_000);
    assert.equal(compiled.scheduleToCloseTimeout, 120_000);
  });

  test('start-to-close, schedule-to-start and heartbeat are capped by schedule-to-close; heartbeat by start-to-close', () => {
    const compiled = compileActivityOptions({
      scheduleToCloseTimeout: '1m',
      startToCloseTimeout: '5m',
      scheduleToStartTimeout: '2m',
      heartbeatTimeout: '10m',
    });
    assert.equal(compiled.startToCloseTimeout, 60_000);
    assert.equal(compiled.scheduleToStartTimeout, 60_000);
    assert.equal(compiled.heartbeatTimeout, 60_000);
    const shorter = compileActivityOptions({ startToCloseTimeout: '10s', heartbeatTimeout: '1m' });
    assert.equal(shorter.heartbeatTimeout, 10_000);
    assert.equal(shorter.scheduleToCloseTimeout, undefined);
    const within = compileActivityOptions({
      scheduleToCloseTimeout: '1m',
      startToCloseTimeout: '5s',
    });
    assert.equal(within.startToCloseTimeout, 5000);
  });

  test('rejects bad values with messages that name them', () => {
    assert.throws(
      () => compileActivityOptions({ startToCloseTimeout: 'quick' }),
      namedTypeError('startToCloseTimeout'),
    );
    assert.throws(
      () => compileActivityOptions({ startToCloseTimeout: '1s', heartbeatTimeout: -5 }),
      namedTypeError('heartbeatTimeout'),
    );
    assert.throws(
      () =>
        compileActivityOptions({ startToCloseTimeout: '1s', cancellationType: 'NEVER' as never }),
      /Invalid cancellationType 'NEVER'\. Use one of TRY_CANCEL, WAIT_CANCELLATION_COMPLETED, ABANDON/,
    );
    assert.throws(
      () => compileActivityOptions({ startToCloseTimeout: '1s', taskQueue: '' }),
      /Invalid taskQueue: expected a non-empty string/,
    );
    assert.throws(
      () => compileActivityOptions({ startToCloseTimeout: '1s', retry: { backoffCoefficient: 0 } }),
      /retry\.backoffCoefficient/,
    );
  });
});

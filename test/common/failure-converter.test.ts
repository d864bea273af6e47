import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  KeelFailure,
  RetryState,
  ServerFailure,
  TerminatedFailure,
  TimeoutFailure,
  TimeoutType,
  asError,
} from '../../src/common/failure.ts';
import {
  decodeFailure,
  encodeFailure,
  type FailureInfo,
} from '../../src/common/failure-converter.ts';
import { roundTrip } from '../../src/common/payload.ts';
import { isCancellation } from '../../src/workflow/is-cancellation.ts';

/** Encode, pass through JSON as the history does, decode. */
const throughHistory = (error: unknown) => decodeFailure(roundTrip(encodeFailure(error)));

describe('encodeFailure / decodeFailure', () => {
  test('an ApplicationFailure keeps type, message, stack, details, nonRetryable and nextRetryDelay', () => {
    const original = ApplicationFailure.create({
      message: 'card declined',
      type: 'CardDeclined',
      nonRetryable: true,
      details: [{ last4: '4242' }, 7],
      nextRetryDelay: 1500,
    });
    const info = encodeFailure(original);
    assert.deepEqual(info, {
      message: 'card declined',
      stackTrace: original.stack,
      applicationFailureInfo: {
        type: 'CardDeclined',
        nonRetryable: true,
        details: [{ last4: '4242' }, 7],
        nextRetryDelay: 1500,
      },
    });
    const decoded = throughHistory(original);
    assert.ok(decoded instanceof ApplicationFailure);
    assert.ok(decoded instanceof KeelFailure);
    assert.ok(decoded instanceof Error);
    assert.equal(decoded.name, 'ApplicationFailure');
    assert.equal(decoded.message, 'card declined');
    assert.equal(decoded.type, 'CardDeclined');
    assert.equal(decoded.nonRetryable, true);
    assert.deepEqual(decoded.details, [{ last4: '4242' }, 7]);
    assert.equal(decoded.nextRetryDelay, 1500);
    assert.equal(decoded.stack, original.stack);
    assert.equal(decoded.encodedStack, original.stack);
  });

  test('a plain Error becomes an ApplicationFailure typed by its name', () => {
    const error = new RangeError('too big');
    const info = encodeFailure(error);
    assert.deepEqual(info.applicationFailureInfo, { type: 'RangeError', nonRetryable: false });
    assert.equal(info.stackTrace, error.stack);
    const decoded = decodeFailure(info);
    assert.ok(decoded instanceof ApplicationFailure);
    assert.equal(decoded.type, 'RangeError');
    assert.equal(decoded.message, 'too big');
    assert.equal(decoded.stack, error.stack);
    assert.match(decoded.stack!, /RangeError: too big/);
  });

  test('a custom error class name is its type', () => {
    class InventoryError extends Error {
      override name = 'InventoryError';
    }
    const decoded = throughHistory(new InventoryError('out of stock'));
    assert.equal((decoded as ApplicationFailure).type, 'InventoryError');
  });

  test('non-Error thrown values become ApplicationFailures with the value as message', () => {
    for (const [value, message] of [
      ['a string', 'a string'],
      [42, '42'],
      [null, 'null'],
      [undefined, 'undefined'],
      [{ code: 1 }, '[object Object]'],
    ] as const) {
      const info = encodeFailure(value);
      assert.deepEqual(info, {
        message,
        applicationFailureInfo: { type: 'Error', nonRetryable: false },
      });
      const decoded = decodeFailure(info);
      assert.ok(decoded instanceof ApplicationFailure);
      assert.equal(decoded.message, message);
    }
  });

  test('a message or stack cut in the middle of a surrogate pair is mended, not refused', () => {
    const error = new Error('name: Zoë \ud83d');
    error.stack = 'Error: \ude00\n    at here';
    const info = encodeFailure(error);
    assert.equal(info.message, 'name: Zoë \ufffd');
    assert.equal(info.stackTrace, 'Error: \ufffd\n    at here');
    assert.equal(encodeFailure('thrown \ud800').message, 'thrown \ufffd');
    assert.equal(encodeFailure(new Error('whole 😀')).message, 'whole 😀');
  });

  test('a cause chain three levels deep survives, each level with its own type and stack', () => {
    const root = new TypeError('socket closed');
    const middle = new Error('fetch failed', { cause: root });
    const top = ApplicationFailure.create({
      message: 'charge failed',
      type: 'Charge',
      cause: middle,
    });
    const info = roundTrip(encodeFailure(top));
    assert.equal(info.cause?.message, 'fetch failed');
    assert.equal(info.cause?.cause?.message, 'socket closed');
    assert.equal(info.cause?.cause?.cause, undefined);

    const decoded = decodeFailure(info) as ApplicationFailure;
    assert.equal(decoded.type, 'Charge');
    const level2 = decoded.cause as ApplicationFailure;
    assert.ok(level2 instanceof ApplicationFailure);
    assert.equal(level2.type, 'Error');
    assert.equal(level2.message, 'fetch failed');
    assert.equal(level2.stack, middle.stack);
    const level3 = level2.cause as ApplicationFailure;
    assert.ok(level3 instanceof ApplicationFailure);
    assert.equal(level3.type, 'TypeError');
    assert.equal(level3.stack, root.stack);
    assert.equal(level3.cause, undefined);
  });

  test('a self-referencing cause chain is cut instead of looping', () => {
    const error = new Error('loop');
    (error as { cause?: unknown }).cause = error;
    const info = encodeFailure(error);
    let depth = 0;
    for (let f: FailureInfo | undefined = info; f; f = f.cause) depth++;
    assert.equal(depth, 21);
  });

  test('ActivityFailure keeps activity type, id, retry state, identity and cause', () => {
    const cause = ApplicationFailure.retryable('nope', 'Nope');
    const failure = new ActivityFailure(
      'Activity task failed',
      'charge',
      'act-1',
      RetryState.MAXIMUM_ATTEMPTS_REACHED,
      'worker-9',
      cause,
    );
    const decoded = throughHistory(failure);
    assert.ok(decoded instanceof ActivityFailure);
    assert.equal(decoded.activityType, 'charge');
    assert.equal(decoded.activityId, 'act-1');
    assert.equal(decoded.retryState, 'MAXIMUM_ATTEMPTS_REACHED');
    assert.equal(decoded.identity, 'worker-9');
    assert.ok(decoded.cause instanceof ApplicationFailure);
    assert.equal(decoded.cause.type, 'Nope');
  });

  test('TimeoutFailure keeps timeout type, heartbeat details and cause', () => {
    const failure = new TimeoutFailure('timed out', { page: 4 }, TimeoutType.HEARTBEAT);
    Object.defineProperty(failure, 'cause', {
      value: new Error('last attempt'),
      configurable: true,
    });
    const decoded = throughHistory(failure);
    assert.ok(decoded instanceof TimeoutFailure);
    assert.equal(decoded.timeoutType, 'HEARTBEAT');
    assert.deepEqual(decoded.lastHeartbeatDetails, { page: 4 });
    assert.ok(decoded.cause instanceof ApplicationFailure);
    assert.equal(decoded.cause.message, 'last attempt');
    const noDetails = throughHistory(
      new TimeoutFailure('t', undefined, TimeoutType.START_TO_CLOSE),
    );
    assert.equal((noDetails as TimeoutFailure).lastHeartbeatDetails, undefined);
  });

  test('CancelledFailure, TerminatedFailure and ServerFailure keep their class and fields', () => {
    const cancelled = throughHistory(new CancelledFailure('stop', ['why']));
    assert.ok(cancelled instanceof CancelledFailure);
    assert.deepEqual(cancelled.details, ['why']);
    assert.ok(isCancellation(cancelled));
    const cancelledNoDetails = throughHistory(new CancelledFailure('stop'));
    assert.ok(cancelledNoDetails instanceof CancelledFailure);
    assert.deepEqual(cancelledNoDetails.details, []);

    const terminated = throughHistory(new TerminatedFailure('terminated', new Error('by ops')));
    assert.ok(terminated instanceof TerminatedFailure);
    assert.equal((terminated.cause as Error).message, 'by ops');

    const server = throughHistory(new ServerFailure('no worker', true));
    assert.ok(server instanceof ServerFailure);
    assert.equal(server.nonRetryable, true);
  });

  test('the class of each level is preserved in a mixed chain', () => {
    const chain = new ActivityFailure(
      'Activity task timed out',
      'ship',
      '3',
      RetryState.TIMEOUT,
      undefined,
      new TimeoutFailure('activity START_TO_CLOSE timeout', undefined, TimeoutType.START_TO_CLOSE),
    );
    const decoded = throughHistory(chain);
    assert.ok(decoded instanceof ActivityFailure);
    assert.ok(decoded.cause instanceof TimeoutFailure);
    assert.equal(decoded.cause.timeoutType, 'START_TO_CLOSE');
    assert.equal(isCancellation(decoded), false);
    assert.equal(
      isCancellation(
        new ActivityFailure(
          'x',
          't',
          '1',
          RetryState.CANCEL_REQUESTED,
          undefined,
          new CancelledFailure(),
        ),
      ),
      true,
    );
  });

  test('re-encoding a decoded failure gives the same info', () => {
    const original = ApplicationFailure.create({
      message: 'outer',
      type: 'Outer',
      details: ['d'],
      cause: new CancelledFailure('inner', ['x']),
    });
    const info = roundTrip(encodeFailure(original));
    assert.deepEqual(roundTrip(encodeFailure(decodeFailure(info))), info);
  });

  test('info without a known kind decodes to a generic ApplicationFailure', () => {
    const decoded = decodeFailure({ message: 'bare' });
    assert.ok(decoded instanceof ApplicationFailure);
    assert.equal(decoded.type, 'Error');
    assert.equal(decoded.nonRetryable, false);
    assert.equal(decoded.message, 'bare');
  });
});

describe('failure classes', () => {
  test('instanceof KeelFailure works across copies of the module (brand check)', () => {
    const foreign = Object.assign(Object.create(Error.prototype) as Error, { message: 'x' });
    Object.defineProperty(foreign, Symbol.for('keel.failure'), { value: true });
    assert.ok(foreign instanceof KeelFailure);
    assert.equal(new Error('plain') instanceof KeelFailure, false);
    assert.equal((null as unknown) instanceof KeelFailure, false);
    // Subclasses still use the prototype chain.
    assert.equal(foreign instanceof ApplicationFailure, false);
    assert.equal(new CancelledFailure() instanceof ApplicationFailure, false);
  });

  test('ApplicationFailure.fromError keeps an ApplicationFailure and wraps anything else', () => {
    const app = ApplicationFailure.nonRetryable('x', 'X', 1, 2);
    assert.equal(ApplicationFailure.fromError(app), app);
    assert.deepEqual(app.details, [1, 2]);
    const wrapped = ApplicationFailure.fromError(new SyntaxError('bad', { cause: new Error('c') }));
    assert.equal(wrapped.type, 'SyntaxError');
    assert.equal(wrapped.nonRetryable, false);
    assert.equal((wrapped.cause as Error).message, 'c');
    assert.match(wrapped.stack!, /SyntaxError: bad/);
    assert.equal(ApplicationFailure.fromError(3).message, '3');
    assert.equal(asError('x'), undefined);
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CancelledFailure, Context } from 'keel/activity';
import { MockActivityEnvironment, mockActivities } from 'keel/testing';

/** Imports rows, heartbeating its position and resuming from the last one on a retry. */
async function importRows(total: number): Promise<number[]> {
  const ctx = Context.current();
  const done: number[] = [];
  for (let row = (ctx.info.heartbeatDetails as number | undefined) ?? 0; row < total; row++) {
    await ctx.sleep(5);
    done.push(row);
    ctx.heartbeat(row + 1);
  }
  return done;
}

test('heartbeats are recorded and emitted; the info can set the attempt and the previous heartbeat', async () => {
  const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: 3 });
  const emitted: unknown[] = [];
  env.on('heartbeat', (details) => emitted.push(details));
  assert.deepEqual(await env.run(importRows, 5), [3, 4]);
  assert.deepEqual(env.heartbeats, [4, 5]);
  assert.deepEqual(emitted, [4, 5]);
  assert.equal(env.context.info.attempt, 2);
});

test('cancelling mid-run aborts the activity with CancelledFailure (reason CANCELLED)', async () => {
  const env = new MockActivityEnvironment();
  env.once('heartbeat', () => env.cancel());
  await assert.rejects(env.run(importRows, 100), (error: unknown) => {
    assert.ok(error instanceof CancelledFailure);
    assert.equal(error.message, 'CANCELLED');
    return true;
  });
  assert.equal(env.context.cancellationReason, 'CANCELLED');
  assert.equal(env.heartbeats.length, 1);
});

test('a start-to-close timeout cancels the activity with reason TIMED_OUT', async () => {
  const env = new MockActivityEnvironment({ startToCloseTimeoutMs: 30 });
  await assert.rejects(env.run(importRows, 1000), CancelledFailure);
  assert.equal(env.context.cancellationReason, 'TIMED_OUT');
});

test('a heartbeat timeout fires only when heartbeats stop', async () => {
  const keepsBeating = new MockActivityEnvironment({ heartbeatTimeoutMs: 40 });
  assert.equal(
    (await keepsBeating.run(importRows, 20)).length,
    20,
    'heartbeats every 5 ms keep it alive for 100 ms',
  );

  const stops = new MockActivityEnvironment({ heartbeatTimeoutMs: 40 });
  await assert.rejects(
    stops.run(async () => {
      Context.current().heartbeat('once');
      await Context.current().sleep(1000);
    }),
    CancelledFailure,
  );
  assert.equal(stops.context.cancellationReason, 'TIMED_OUT');
});

test('mockActivities keeps the names and checks the signatures', () => {
  interface Real {
    chargeCard(card: string, cents: number): Promise<string>;
  }
  const mocks = mockActivities<Real>({ chargeCard: async () => 'mocked' });
  assert.deepEqual(Object.keys(mocks), ['chargeCard']);
  // @ts-expect-error a mock must return what the activity returns
  mockActivities<Real>({ chargeCard: async () => 42 });
  assert.throws(
    () => mockActivities<Real>({ chargeCard: 'nope' as never }),
    /'chargeCard' must be a function/,
  );
});

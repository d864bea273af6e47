/**
 * The money-transfer saga end to end: a transfer that goes through, one whose deposit is refused,
 * one cancelled while a slow deposit runs. Each checks the bank calls in the order they were made
 * and the final balances, and, for the two that compensate, the history.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  WorkflowFailedError,
  type HistoryEvent,
  type WorkflowHandle,
} from 'keel/client';
import { expectInstance } from '../fixtures/expect-instance.ts';
import { withTestEnv, type TestEnv } from '../helpers/env.ts';
import { within } from '../fixtures/integration-support.ts';
import { Bank, type Call } from '../../examples/money-transfer/bank.ts';
import { createActivities } from '../../examples/money-transfer/activities.ts';
import * as workflows from '../../examples/money-transfer/workflows.ts';
import type { Transfer } from '../../examples/money-transfer/workflows.ts';

const transfer: Transfer = { id: 't-1', from: 'alice', to: 'bob', cents: 30_00 };

async function startTransfer(env: TestEnv, bank: Bank, t = transfer) {
  await env.startWorker({ workflows, activities: createActivities(bank) });
  return env.client.workflow.start(workflows.transferMoney, {
    taskQueue: env.taskQueue,
    workflowId: `transfer-${t.id}`,
    args: [t],
  });
}

async function failureOf(handle: WorkflowHandle): Promise<WorkflowFailedError> {
  const error = await within(15_000, 'the transfer result', handle.result()).then(
    (value) =>
      assert.fail(`the transfer should not complete; it returned ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  expectInstance(error, WorkflowFailedError, String(error));
  return error;
}

const call = (operation: Call['operation'], account: string, outcome: Call['outcome']): Call => ({
  operation,
  account,
  cents: transfer.cents,
  outcome,
});

/** Activity types in the order the workflow scheduled them. */
function scheduled(events: HistoryEvent[]): string[] {
  return events.flatMap((e) =>
    e.eventType === 'ActivityTaskScheduled' ? [e.attributes.activityType] : [],
  );
}

function position(events: HistoryEvent[], match: (e: HistoryEvent) => boolean, what: string) {
  const index = events.findIndex(match);
  assert.notEqual(index, -1, `no ${what} in ${events.map((e) => e.eventType).join(', ')}`);
  return index;
}

test('a transfer withdraws, deposits and compensates nothing', async () => {
  await withTestEnv(async (env) => {
    const bank = new Bank({ alice: 100_00, bob: 5_00 });
    const handle = await startTransfer(env, bank);
    assert.equal(
      await within(10_000, 'the transfer result', handle.result()),
      'transferred 3000 cents from alice to bob',
    );
    assert.deepEqual(bank.calls, [
      call('withdraw', 'alice', 'applied'),
      call('deposit', 'bob', 'applied'),
    ]);
    assert.equal(bank.balance('alice'), 70_00);
    assert.equal(bank.balance('bob'), 35_00);
  });
});

test('a refused deposit runs the compensations in reverse order and the run fails with the cause', async () => {
  await withTestEnv(async (env) => {
    const bank = new Bank({ alice: 100_00, bob: 5_00 });
    bank.closedAccounts.add('bob');
    const handle = await startTransfer(env, bank);
    const error = await failureOf(handle);
    expectInstance(error.cause, ActivityFailure, String(error.cause));
    assert.equal(error.cause.activityType, 'deposit');
    expectInstance(error.cause.cause, ApplicationFailure, String(error.cause.cause));
    assert.equal(error.cause.cause.type, 'AccountClosed');
    assert.equal(error.cause.cause.message, 'account bob is closed');

    assert.deepEqual(bank.calls, [
      call('withdraw', 'alice', 'applied'),
      call('deposit', 'bob', 'failed'), // non-retryable: one attempt
      call('reverseDeposit', 'bob', 'noop'),
      call('refundWithdrawal', 'alice', 'applied'),
    ]);
    assert.equal(bank.balance('alice'), 100_00);
    assert.equal(bank.balance('bob'), 5_00);

    const { events } = await handle.fetchHistory();
    assert.deepEqual(scheduled(events), [
      'withdraw',
      'deposit',
      'reverseDeposit',
      'refundWithdrawal',
    ]);
    assert.equal(events.at(-1)?.eventType, 'WorkflowExecutionFailed');
    assert.equal((await handle.describe()).status.name, 'Failed');
    const compensating = env.logs.lines.find(
      (l) => l.message === 'transfer t-1 stopped; compensating',
    );
    assert.deepEqual(compensating?.attributes?.compensations, [
      'reverseDeposit',
      'refundWithdrawal',
    ]);
  });
});

test('cancelled during a slow deposit: the deposit stops, then the compensations run to completion and the run ends cancelled', async () => {
  await withTestEnv(async (env) => {
    const bank = new Bank({ alice: 100_00, bob: 5_00 });
    bank.depositLatencyMs = 60_000;
    const depositStarted = bank.called('deposit');
    const handle = await startTransfer(env, bank);
    await within(10_000, 'the deposit to start', depositStarted);
    await handle.cancel();

    const error = await failureOf(handle);
    expectInstance(error.cause, CancelledFailure, String(error.cause));
    assert.equal((await handle.describe()).status.name, 'Canceled');
    assert.deepEqual(bank.calls, [
      call('withdraw', 'alice', 'applied'),
      call('deposit', 'bob', 'cancelled'),
      call('reverseDeposit', 'bob', 'noop'),
      call('refundWithdrawal', 'alice', 'applied'),
    ]);
    assert.equal(bank.balance('alice'), 100_00);
    assert.equal(bank.balance('bob'), 5_00);

    const { events } = await handle.fetchHistory();
    assert.deepEqual(scheduled(events), [
      'withdraw',
      'deposit',
      'reverseDeposit',
      'refundWithdrawal',
    ]);
    const cancelRequested = position(
      events,
      (e) => e.eventType === 'WorkflowExecutionCancelRequested',
      'WorkflowExecutionCancelRequested',
    );
    const depositCanceled = position(
      events,
      (e) => e.eventType === 'ActivityTaskCanceled',
      'ActivityTaskCanceled (the deposit)',
    );
    const reverseScheduled = position(
      events,
      (e) =>
        e.eventType === 'ActivityTaskScheduled' && e.attributes.activityType === 'reverseDeposit',
      'reverseDeposit scheduled',
    );
    // WAIT_CANCELLATION_COMPLETED: compensation starts only once the deposit has stopped.
    assert.deepEqual(
      [cancelRequested < depositCanceled, depositCanceled < reverseScheduled],
      [true, true],
      'cancel requested, then the deposit cancelled, then the compensation scheduled',
    );
    const completed = events.filter((e) => e.eventType === 'ActivityTaskCompleted').length;
    assert.equal(completed, 3, 'withdraw and both compensations completed');
    assert.equal(events.at(-1)?.eventType, 'WorkflowExecutionCanceled');
  });
});

test('a transfer refused for insufficient funds moves no money', async () => {
  await withTestEnv(async (env) => {
    const bank = new Bank({ alice: 10_00, bob: 5_00 });
    const handle = await startTransfer(env, bank);
    const error = await failureOf(handle);
    expectInstance(error.cause?.cause, ApplicationFailure, String(error.cause?.cause));
    assert.equal(error.cause.cause.type, 'InsufficientFunds');
    assert.deepEqual(bank.calls, [
      call('withdraw', 'alice', 'failed'),
      call('refundWithdrawal', 'alice', 'noop'),
    ]);
    assert.equal(bank.balance('alice'), 10_00);
    assert.equal(bank.balance('bob'), 5_00);
  });
});

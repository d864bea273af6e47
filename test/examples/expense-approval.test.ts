/**
 * The expense-approval example: approval and rejection by signal, the state query, the amount
 * update and its validator, and the escalation after 3 days (in a time-skipping environment).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestWorkflowEnvironment } from 'keel/testing';
import { Worker } from 'keel/worker';
import type { WorkflowHandle } from 'keel/client';
import { WorkflowUpdateFailedError } from '../../src/common/errors.ts';
import { expectInstance } from '../fixtures/expect-instance.ts';
import { withTestEnv } from '../helpers/env.ts';
import { waitFor, within } from '../fixtures/integration-support.ts';
import { createActivities, type OutboxEntry } from '../../examples/expense-approval/activities.ts';
import * as workflows from '../../examples/expense-approval/workflows.ts';
import {
  approve,
  changeAmount,
  expenseApproval,
  expenseState,
  reject,
  type Expense,
} from '../../examples/expense-approval/workflows.ts';

const DAY = 24 * 60 * 60 * 1000;

const expense = (id: string): Expense => ({
  id,
  employee: 'erin',
  description: 'train to Kiel',
  cents: 89_00,
  approver: 'carol',
  escalateTo: 'dave',
});

/** Waits until the workflow asked the approver and is idle, waiting for a decision on its timer. */
async function waitingForDecision(handle: WorkflowHandle): Promise<void> {
  await waitFor('the workflow to wait for a decision', async () => {
    const types = (await handle.fetchHistory()).events.map((e) => e.eventType);
    // The timer is started once the approver was asked, and no workflow task is outstanding.
    return (
      types.includes('TimerStarted') &&
      types.lastIndexOf('WorkflowTaskCompleted') > types.lastIndexOf('WorkflowTaskScheduled')
    );
  });
}

test('approved by signal after an amended amount: the query follows along and the new amount is reimbursed', async () => {
  await withTestEnv(async (env) => {
    const outbox: OutboxEntry[] = [];
    await env.startWorker({ workflows, activities: createActivities(outbox) });
    const handle = await env.client.workflow.start(expenseApproval, {
      taskQueue: env.taskQueue,
      workflowId: 'expense-1',
      args: [expense('e-1')],
    });
    await waitingForDecision(handle);
    assert.deepEqual(await handle.query(expenseState), {
      status: 'pending',
      cents: 89_00,
      approverAsked: true,
      amendments: [],
    });

    assert.equal(await handle.executeUpdate(changeAmount, { args: [92_50] }), 92_50);
    assert.equal((await handle.query(expenseState)).cents, 92_50);

    await handle.signal(approve, 'carol');
    const final = await within(10_000, 'the result', handle.result());
    assert.deepEqual(final, {
      status: 'approved',
      cents: 92_50,
      approverAsked: true,
      decidedBy: 'carol',
      amendments: [89_00],
    });
    assert.deepEqual(outbox, [
      { action: 'askApprover', expenseId: 'e-1', to: 'carol', cents: 89_00 },
      { action: 'reimburse', expenseId: 'e-1', to: 'erin', cents: 92_50 },
    ]);
    // The query answers on the closed workflow too (by replaying it).
    assert.deepEqual(await handle.query(expenseState), final);
  });
});

test('rejected by signal: the employee is told why and nothing is paid; a later approval changes nothing', async () => {
  await withTestEnv(async (env) => {
    const outbox: OutboxEntry[] = [];
    await env.startWorker({ workflows, activities: createActivities(outbox) });
    // Both signals are in the history before the workflow's first task runs: the first one wins.
    const handle = await env.client.workflow.signalWithStart(expenseApproval, {
      taskQueue: env.taskQueue,
      workflowId: 'expense-2',
      args: [expense('e-2')],
      signal: reject,
      signalArgs: ['carol', 'no receipt'],
    });
    await handle.signal(approve, 'mallory');
    const final = await within(10_000, 'the result', handle.result());
    assert.equal(final.status, 'rejected');
    assert.equal(final.decidedBy, 'carol');
    assert.equal(final.reason, 'no receipt');
    assert.deepEqual(
      outbox.map((o) => o.action),
      ['askApprover', 'notifyRejection'],
    );
    assert.equal(outbox[1]?.to, 'erin (no receipt)');
  });
});

test(
  'an update with a negative amount is refused by the validator and writes nothing to the history',
  {},
  async () => {
    await withTestEnv(async (env) => {
      await env.startWorker({ workflows, activities: createActivities([]) });
      const handle = await env.client.workflow.start(expenseApproval, {
        taskQueue: env.taskQueue,
        workflowId: 'expense-3',
        args: [expense('e-3')],
      });
      try {
        await waitingForDecision(handle);
        const before = (await handle.fetchHistory()).events;

        const refusal = (cents: number) =>
          within(
            3_000,
            `the update to ${cents}`,
            handle.executeUpdate(changeAmount, { args: [cents] }),
          ).then(
            (value) =>
              assert.fail(`the update to ${cents} should be refused; it returned ${value}`),
            (e: unknown) => e,
          );
        const error = await refusal(-100);
        expectInstance(error, WorkflowUpdateFailedError, String(error));
        assert.match(
          error.message,
          /was rejected: amount must be a whole, non-negative number of cents, not -100/,
        );
        expectInstance(await refusal(10.5), WorkflowUpdateFailedError, 'the refusal of 10.5');

        assert.deepEqual((await handle.fetchHistory()).events, before, 'the history is unchanged');
        assert.equal((await handle.describe()).lastWorkflowTaskFailure, undefined);
        const state = await handle.query(expenseState);
        assert.equal(state.cents, 89_00);
        assert.deepEqual(state.amendments, []);
      } finally {
        await handle.terminate('test over');
      }
    });
  },
);

test('an accepted update is recorded once; the same update id does not apply it twice', async () => {
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows, activities: createActivities([]) });
    const handle = await env.client.workflow.start(expenseApproval, {
      taskQueue: env.taskQueue,
      workflowId: 'expense-5',
      args: [expense('e-5')],
    });
    await waitingForDecision(handle);
    const update = () => handle.executeUpdate(changeAmount, { args: [70_00], updateId: 'fix-1' });
    assert.equal(await update(), 70_00);
    assert.equal(await update(), 70_00);
    const types = (await handle.fetchHistory()).events.map((e) => e.eventType);
    assert.equal(types.filter((t) => t === 'WorkflowExecutionUpdateAccepted').length, 1);
    assert.equal(types.filter((t) => t === 'WorkflowExecutionUpdateCompleted').length, 1);
    assert.deepEqual((await handle.query(expenseState)).amendments, [89_00]);
    await handle.terminate('test over');
  });
});

test('no decision within 3 days: the report is escalated, in well under a second of real time', async () => {
  const env = await TestWorkflowEnvironment.createTimeSkipping();
  const outbox: OutboxEntry[] = [];
  const worker = await Worker.create({
    store: env.store,
    taskQueue: 'expenses',
    workflows,
    activities: createActivities(outbox),
    handleSignals: false,
    logger: { log() {} },
  });
  try {
    await worker.runUntil(
      (async () => {
        const startedAt = env.currentTime.getTime();
        const realStart = performance.now();
        const handle = await env.client.workflow.start(expenseApproval, {
          taskQueue: 'expenses',
          workflowId: 'expense-4',
          args: [expense('e-4')],
        });
        const final = await within(5_000, 'the result', handle.result());
        const realElapsed = performance.now() - realStart;
        assert.equal(realElapsed < 1000, true, `took ${realElapsed} ms of real time`);
        assert.equal(
          env.currentTime.getTime() - startedAt >= 3 * DAY,
          true,
          'the environment clock moved 3 days',
        );
        assert.equal(final.status, 'escalated');
        assert.equal(final.decidedBy, undefined);
        assert.deepEqual(outbox, [
          { action: 'askApprover', expenseId: 'e-4', to: 'carol', cents: 89_00 },
          { action: 'escalate', expenseId: 'e-4', to: 'dave', cents: 89_00 },
        ]);
        const { events } = await handle.fetchHistory();
        const timer = events.find((e) => e.eventType === 'TimerStarted');
        assert.equal(
          timer?.eventType === 'TimerStarted' && timer.attributes.startToFireTimeout,
          3 * DAY,
        );
        assert.equal(events.filter((e) => e.eventType === 'TimerFired').length, 1);
        assert.equal((await handle.query(expenseState)).status, 'escalated');
      })(),
    );
  } finally {
    await env.teardown();
  }
});

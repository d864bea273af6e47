import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestWorkflowEnvironment } from 'keel/testing';
import { Worker } from 'keel/worker';
import * as workflows from '../fixtures/time-workflows.ts';
import * as activities from '../fixtures/time-activities.ts';

const DAY = 24 * 60 * 60 * 1000;

async function withTimeSkipping(
  fn: (env: TestWorkflowEnvironment, worker: Worker) => Promise<void>,
) {
  const env = await TestWorkflowEnvironment.createTimeSkipping();
  const worker = await Worker.create({
    store: env.store,
    taskQueue: 'time',
    workflows,
    activities,
    handleSignals: false,
    logger: { log() {} },
  });
  try {
    await worker.runUntil(fn(env, worker));
  } finally {
    await env.teardown();
  }
}

test('a workflow that sleeps 30 days completes in well under a second, and sees 30 days pass', async () => {
  await withTimeSkipping(async (env) => {
    const realStart = performance.now();
    const envStart = env.currentTime.getTime();
    const { before, after } = await env.client.workflow.execute(workflows.longSleep, {
      taskQueue: 'time',
      workflowId: 'thirty-days',
      args: ['30 days'],
    });
    const realElapsed = performance.now() - realStart;
    assert.ok(realElapsed < 1000, `took ${realElapsed} ms of real time`);
    assert.ok(after - before >= 30 * DAY, 'workflow time advanced by the sleep');
    assert.ok(
      env.currentTime.getTime() - envStart >= 30 * DAY,
      'the environment clock advanced too',
    );
  });
});

test('retry backoffs of hours are skipped too', async () => {
  await withTimeSkipping(async (env) => {
    const start = env.currentTime.getTime();
    const attempt = await env.client.workflow.execute(workflows.slowRetries, {
      taskQueue: 'time',
      workflowId: 'slow-retries',
    });
    assert.equal(attempt, 3);
    // 1 hour, then 2 hours of backoff.
    assert.ok(env.currentTime.getTime() - start >= 3 * 60 * 60 * 1000);
  });
});

test('without a result being awaited, time does not skip; env.sleep moves it by hand', async () => {
  await withTimeSkipping(async (env) => {
    const handle = await env.client.workflow.start(workflows.longSleep, {
      taskQueue: 'time',
      workflowId: 'manual',
      args: ['2 days'],
    });
    await env.sleep('1 day');
    assert.equal(
      (await handle.describe()).status.name,
      'Running',
      'one day in, the 2-day timer has not fired',
    );
    await env.sleep('1 day');
    const { events } = await handle.fetchHistory();
    assert.ok(
      events.some((e) => e.eventType === 'TimerFired'),
      'the timer fired once 2 days passed',
    );
    const { before, after } = await handle.result();
    assert.ok(after - before >= 2 * DAY);
  });
});

test('condition with a 3-day timeout returns false after 3 days of skipped time', async () => {
  await withTimeSkipping(async (env) => {
    const realStart = performance.now();
    const outcome = await env.client.workflow.execute(workflows.awaitsApproval, {
      taskQueue: 'time',
      workflowId: 'no-approval',
    });
    assert.equal(outcome.approved, false);
    assert.equal(
      outcome.waitedMs >= 3 * DAY,
      true,
      `waited ${outcome.waitedMs} ms of workflow time`,
    );
    assert.equal(performance.now() - realStart < 2000, true);
  });
});

test('a signal sent after a day of skipped time wakes the condition before its timeout', async () => {
  await withTimeSkipping(async (env) => {
    const handle = await env.client.workflow.start(workflows.awaitsApproval, {
      taskQueue: 'time',
      workflowId: 'approved-on-day-1',
    });
    await env.sleep('1 day');
    await handle.signal(workflows.approve);
    const outcome = await handle.result();
    assert.equal(outcome.approved, true);
    assert.equal(
      outcome.waitedMs >= DAY && outcome.waitedMs < 2 * DAY,
      true,
      `waited ${outcome.waitedMs} ms`,
    );
    const { events } = await handle.fetchHistory();
    assert.equal(
      events.filter((e) => e.eventType === 'TimerCanceled').length,
      1,
      'the timeout timer was cancelled',
    );
  });
});

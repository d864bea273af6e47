/**
 * condition() and allHandlersFinished() end to end: waking on signals and updates, timeouts (long ones
 * in the time-skipping environment), async handlers, and the warning for a workflow that completes
 * while a handler still runs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkflowUpdateFailedError } from 'keel/client';
import { TestWorkflowEnvironment } from 'keel/testing';
import { Worker } from 'keel/worker';
import { withTestEnv } from '../helpers/env.ts';
import {
  ActivityProbe,
  eventsOfType,
  historyOf,
  waitForEvent,
  within,
} from '../fixtures/integration-support.ts';
import { createMessagesActivities } from '../fixtures/messages-activities.ts';
import { assertInstanceOf, startMessagesWorker, workflows } from '../fixtures/messages-support.ts';

const DAY = 24 * 60 * 60 * 1000;

const unfinishedWarning = /finished while 1 signal or update handler\(s\) were still running/;

test('condition(fn) wakes when a signal handler makes fn true', async () => {
  await withTestEnv(async (env) => {
    await startMessagesWorker(env);
    const handle = await env.client.workflow.start(workflows.waitsForWake, {
      taskQueue: env.taskQueue,
      workflowId: 'wake-signal',
    });
    await waitForEvent(handle, 'WorkflowTaskCompleted');
    assert.equal((await handle.describe()).status.name, 'Running', 'it waits');
    await handle.signal(workflows.wake, 'a signal');
    assert.deepEqual(await within(10_000, 'result', handle.result()), {
      ok: true,
      by: 'a signal',
    });
  });
});

test('condition(fn) wakes when an update handler makes fn true', async () => {
  await withTestEnv(async (env) => {
    await startMessagesWorker(env);
    const handle = await env.client.workflow.start(workflows.waitsForWake, {
      taskQueue: env.taskQueue,
      workflowId: 'wake-update',
    });
    await waitForEvent(handle, 'WorkflowTaskCompleted');
    assert.equal(
      await handle.executeUpdate(workflows.wakeUpdate, { args: ['an update'] }),
      'woken by an update',
    );
    assert.deepEqual(await within(10_000, 'result', handle.result()), {
      ok: true,
      by: 'an update',
    });
    const types = (await historyOf(handle)).map((e) => e.eventType);
    assert.equal(
      types.indexOf('WorkflowExecutionUpdateCompleted') <
        types.indexOf('WorkflowExecutionCompleted'),
      true,
      'the update completed before the workflow',
    );
  });
});

test('condition(fn, timeout) returns true when fn turns true in time, and cancels its timer', async () => {
  await withTestEnv(async (env) => {
    await startMessagesWorker(env);
    const handle = await env.client.workflow.start(workflows.waitsForWake, {
      taskQueue: env.taskQueue,
      workflowId: 'wake-in-time',
      args: ['1 hour'],
    });
    await waitForEvent(handle, 'TimerStarted');
    await handle.signal(workflows.wake, 'in time');
    assert.deepEqual(await within(10_000, 'result', handle.result()), { ok: true, by: 'in time' });
    const events = await historyOf(handle);
    const started = eventsOfType(events, 'TimerStarted');
    assert.equal(started.length, 1);
    assert.equal(started[0]!.attributes.startToFireTimeout, 60 * 60 * 1000);
    const canceled = eventsOfType(events, 'TimerCanceled');
    assert.equal(canceled.length, 1);
    assert.equal(canceled[0]!.attributes.timerId, started[0]!.attributes.timerId);
    assert.equal(eventsOfType(events, 'TimerFired').length, 0);
  });
});

test('condition(fn, timeout) returns false after a long timeout (time-skipping), true if woken before it', async () => {
  const env = await TestWorkflowEnvironment.createTimeSkipping();
  const worker = await Worker.create({
    store: env.store,
    taskQueue: 'messages-time',
    workflows,
    activities: createMessagesActivities(new ActivityProbe()),
    handleSignals: false,
    logger: { log() {} },
  });
  try {
    await worker.runUntil(
      (async () => {
        const start = env.currentTime.getTime();
        const realStart = Date.now();
        const timedOut = await env.client.workflow.execute(workflows.waitsForWake, {
          taskQueue: 'messages-time',
          workflowId: 'wake-too-late',
          args: ['3 days'],
        });
        assert.deepEqual(timedOut, { ok: false });
        assert.equal(env.currentTime.getTime() - start >= 3 * DAY, true, 'three days passed');
        assert.equal(Date.now() - realStart < 5_000, true, 'in little real time');
        const events = await historyOf(env.client.workflow.getHandle('wake-too-late'));
        assert.equal(eventsOfType(events, 'TimerFired').length, 1);

        const woken = await env.client.workflow.start(workflows.waitsForWake, {
          taskQueue: 'messages-time',
          workflowId: 'wake-after-a-day',
          args: ['3 days'],
        });
        await waitForEvent(woken, 'TimerStarted');
        await env.sleep('1 day');
        assert.equal((await woken.describe()).status.name, 'Running');
        await woken.signal(workflows.wake, 'day two');
        assert.deepEqual(await woken.result(), { ok: true, by: 'day two' });
      })(),
    );
  } finally {
    await env.teardown();
  }
});

test('await condition(allHandlersFinished) lets an async signal handler finish before the workflow returns', async () => {
  await withTestEnv(async (env) => {
    await startMessagesWorker(env);
    const handle = await env.client.workflow.start(workflows.asyncSignalHandler, {
      taskQueue: env.taskQueue,
      workflowId: 'handlers-finished',
      args: [true],
    });
    await handle.signal(workflows.add, 'x');
    assert.deepEqual(await within(10_000, 'result', handle.result()), ['handled x']);
    const events = await historyOf(handle);
    const activityDone = eventsOfType(events, 'ActivityTaskCompleted')[0]!;
    const completed = eventsOfType(events, 'WorkflowExecutionCompleted')[0]!;
    assert.equal(activityDone.eventId < completed.eventId, true);
    assert.deepEqual(
      env.logs.lines.filter((l) => unfinishedWarning.test(l.message)),
      [],
      'no warning',
    );
  });
});

test('a workflow that returns while a signal handler still runs completes, and the worker logs a warning', async () => {
  await withTestEnv(async (env) => {
    await startMessagesWorker(env);
    const handle = await env.client.workflow.start(workflows.asyncSignalHandler, {
      taskQueue: env.taskQueue,
      workflowId: 'handlers-unfinished',
      args: [false],
    });
    await handle.signal(workflows.add, 'x');
    assert.deepEqual(await within(10_000, 'result', handle.result()), []);
    const warnings = env.logs.lines.filter((l) => unfinishedWarning.test(l.message));
    assert.equal(warnings.length, 1, JSON.stringify(env.logs.lines));
    assert.equal(warnings[0]!.level, 'warn');
    assert.match(warnings[0]!.message, /'handlers-unfinished'/);
    assert.match(warnings[0]!.message, /allHandlersFinished/);
    assert.equal(warnings[0]!.attributes?.workflowId, 'handlers-unfinished');
    // The run closed with the handler's activity still out: its result can no longer arrive.
    const events = await historyOf(handle);
    assert.equal(events.at(-1)!.eventType, 'WorkflowExecutionCompleted');
    assert.equal(eventsOfType(events, 'ActivityTaskCompleted').length, 0);
  });
});

test('a workflow that returns while an update handler still runs warns, and the update fails with WorkflowUpdateFailedError', async () => {
  await withTestEnv(async (env) => {
    await startMessagesWorker(env);
    const handle = await env.client.workflow.start(workflows.completesWithRunningUpdate, {
      taskQueue: env.taskQueue,
      workflowId: 'update-unfinished',
    });
    const update = handle.executeUpdate(workflows.slowDouble, { args: [1], updateId: 'left' });
    update.catch(() => undefined);
    assert.equal(
      await within(10_000, 'result', handle.result()),
      'returned while the update handler ran',
    );
    const error = await within(10_000, 'the update', update).then(
      (value) => assert.fail(`the update should fail, but returned ${JSON.stringify(value)}`),
      (e: unknown) => e as Error,
    );
    assertInstanceOf(error, WorkflowUpdateFailedError);
    assert.match(error.message, /slowDouble/);
    assert.match(error.message, /Completed/);
    const warnings = env.logs.lines.filter((l) => unfinishedWarning.test(l.message));
    assert.equal(warnings.length, 1, JSON.stringify(env.logs.lines));
    const events = await historyOf(handle);
    assert.equal(eventsOfType(events, 'WorkflowExecutionUpdateAccepted').length, 1);
    assert.equal(eventsOfType(events, 'WorkflowExecutionUpdateCompleted').length, 0);
  });
});

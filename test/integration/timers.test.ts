/**
 * Durable timers: sleep() and setTimeout() in workflow code, workflow time, many timers at once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withTestEnv } from '../helpers/env.ts';
import * as workflows from '../fixtures/timers-workflows.ts';
import * as activities from '../fixtures/timers-activities.ts';
import { eventsOfType, historyOf } from '../fixtures/integration-support.ts';

test('sleep() waits at least its duration, and not much longer', async () => {
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows });
    for (const ms of [100, 600]) {
      const started = Date.now();
      const handle = await env.client.workflow.start(workflows.timedSleep, {
        taskQueue: env.taskQueue,
        workflowId: `sleep-${ms}`,
        args: [ms],
      });
      await handle.result();
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= ms, `a ${ms} ms sleep took ${elapsed} ms`);
      assert.ok(elapsed < ms + 1500, `a ${ms} ms sleep took ${elapsed} ms`);
      const events = await historyOf(handle);
      const [timerStarted] = eventsOfType(events, 'TimerStarted');
      const [fired] = eventsOfType(events, 'TimerFired');
      assert.equal(timerStarted!.attributes.startToFireTimeout, ms);
      assert.equal(fired!.attributes.startedEventId, timerStarted!.eventId);
      assert.ok(fired!.eventTime - timerStarted!.eventTime >= ms);
    }
  });
});

test('Date.now() in the workflow advances by about the slept time', async () => {
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows });
    const { before, after } = await env.client.workflow.execute(workflows.timedSleep, {
      taskQueue: env.taskQueue,
      workflowId: 'workflow-time',
      args: [500],
    });
    assert.ok(after - before >= 500, `workflow time advanced ${after - before} ms`);
    assert.ok(after - before < 500 + 1500, `workflow time advanced ${after - before} ms`);
  });
});

test(
  'Date.now() in workflow code is the same on replay as in the first execution',
  {},
  async () => {
    await withTestEnv(async (env) => {
      // No cache: the last task replays the first one from the history.
      await env.startWorker({ workflows, activities, maxCachedWorkflows: 0 });
      const handle = await env.client.workflow.start(workflows.timeAcrossReplay, {
        taskQueue: env.taskQueue,
        workflowId: 'time-across-replay',
      });
      const { first, recorded } = await handle.result();
      const events = await historyOf(handle);
      const [scheduled] = eventsOfType(events, 'ActivityTaskScheduled');
      assert.equal(recorded, scheduled!.attributes.input[0], 'the activity got the first value');
      // A replay computes the same value as the first execution did...
      assert.equal(first, recorded, `replay saw ${first}, the first execution saw ${recorded}`);
      // ...because workflow time is the time of the workflow task as the history records it.
      assert.equal(recorded, eventsOfType(events, 'WorkflowTaskStarted')[0]!.eventTime);
    });
  },
);

test('20 concurrent timers (Promise.all of sleeps) all fire, shortest first', async () => {
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows });
    const started = Date.now();
    const handle = await env.client.workflow.start(workflows.manyTimers, {
      taskQueue: env.taskQueue,
      workflowId: 'many-timers',
      args: [20, 100, 15],
    });
    const fired = await handle.result();
    const elapsed = Date.now() - started;
    // Each fired once, in the order of their deadlines (also when several fire in one task).
    assert.deepEqual(
      fired,
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.ok(elapsed >= 100 + 19 * 15, `took ${elapsed} ms`);
    assert.ok(elapsed < 100 + 19 * 15 + 2000, `took ${elapsed} ms`);
    const events = await historyOf(handle);
    const timerStarted = eventsOfType(events, 'TimerStarted');
    assert.equal(timerStarted.length, 20);
    assert.equal(new Set(timerStarted.map((e) => e.attributes.timerId)).size, 20);
    assert.equal(eventsOfType(events, 'TimerFired').length, 20);
  });
});

test('setTimeout() in workflow code is a durable timer', async () => {
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows });
    const handle = await env.client.workflow.start(workflows.usesSetTimeout, {
      taskQueue: env.taskQueue,
      workflowId: 'set-timeout',
      args: [300],
    });
    const { before, after, arg } = await handle.result();
    assert.equal(arg, 'passed-through');
    assert.ok(after - before >= 300, `workflow time advanced ${after - before} ms`);
    const events = await historyOf(handle);
    const timers = eventsOfType(events, 'TimerStarted');
    assert.equal(timers.length, 1);
    assert.equal(timers[0]!.attributes.startToFireTimeout, 300);
    assert.equal(eventsOfType(events, 'TimerFired').length, 1);
  });
});

test('clearTimeout() in workflow code cancels the durable timer (TimerCanceled in the history)', async () => {
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows });
    const handle = await env.client.workflow.start(workflows.clearsTimeout, {
      taskQueue: env.taskQueue,
      workflowId: 'clear-timeout',
      args: [60_000, 100],
    });
    assert.equal(await handle.result(), 'cleared');
    const events = await historyOf(handle);
    const started = eventsOfType(events, 'TimerStarted');
    assert.deepEqual(
      started.map((e) => e.attributes.startToFireTimeout).sort((a, b) => a - b),
      [100, 60_000],
    );
    const long = started.find((e) => e.attributes.startToFireTimeout === 60_000)!;
    const canceled = eventsOfType(events, 'TimerCanceled');
    assert.equal(canceled.length, 1);
    assert.equal(canceled[0]!.attributes.timerId, long.attributes.timerId);
    assert.equal(eventsOfType(events, 'TimerFired').length, 1);
  });
});

/**
 * Replay determinism with messages: each scenario runs twice, on a worker that caches workflows and
 * on one with maxCachedWorkflows: 0 (every task and every query replays the run from its history).
 * Results, answers and the shape of every history must be identical, and each final history must
 * replay cleanly with Worker.runReplayHistory.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WorkflowHandle } from 'keel/client';
import { Worker, type WorkerOptions } from 'keel/worker';
import { TEST_STORE, withTestEnv, type TestEnv } from '../helpers/env.ts';
import {
  Deferred,
  eventsOfType,
  historyOf,
  waitForEvent,
  within,
  type ActivityProbe,
} from '../fixtures/integration-support.ts';
import {
  shapeOf,
  startMessagesWorker,
  waitForSignalsHandled,
  workflows,
} from '../fixtures/messages-support.ts';

interface ScenarioContext {
  env: TestEnv;
  probe: ActivityProbe;
  /** A workflow id unique to this run of the scenario (the two runs share the process). */
  id: (name: string) => string;
}

/** What a scenario observed: values to compare, and the workflows whose histories to compare. */
interface Observed {
  values: unknown[];
  handles: WorkflowHandle[];
}

type Scenario = (ctx: ScenarioContext) => Promise<Observed>;

let runCounter = 0;

/** Runs `scenario` cached and uncached; asserts both observed the same; returns the uncached run's invocation counts. */
async function cachedAndUncachedAgree(
  scenario: Scenario,
  workerOptions: Partial<WorkerOptions> = {},
): Promise<void> {
  const outcomes: { values: unknown[]; histories: Record<string, string[]> }[] = [];
  const invocationCounts: { tasks: number; invocations: number }[][] = [];
  for (const maxCachedWorkflows of [1000, 0]) {
    const suffix = `${maxCachedWorkflows === 0 ? 'uncached' : 'cached'}-${++runCounter}`;
    await withTestEnv(async (env) => {
      const probe = await startMessagesWorker(env, { ...workerOptions, maxCachedWorkflows });
      const { values, handles } = await scenario({
        env,
        probe,
        id: (name) => `${name}-${suffix}`,
      });
      const histories: Record<string, string[]> = {};
      const counts: { tasks: number; invocations: number }[] = [];
      for (const handle of handles) {
        const history = await handle.fetchHistory();
        const name = handle.workflowId.slice(0, -suffix.length - 1);
        // Workflow tasks are left out: how events group into tasks depends on timing (a message
        // may arrive before or after a task starts), not on the code under test.
        histories[name] = shapeOf(history.events).filter((e) => !e.startsWith('WorkflowTask'));
        await Worker.runReplayHistory({ workflows }, history);
        counts.push({
          tasks: eventsOfType(history.events, 'WorkflowTaskCompleted').length,
          invocations: workflows.invocations.get(handle.workflowId) ?? 0,
        });
      }
      outcomes.push({ values, histories });
      invocationCounts.push(counts);
    });
  }
  const [cached, uncached] = outcomes;
  assert.deepEqual(uncached!.values, cached!.values, 'the same results and answers');
  assert.deepEqual(uncached!.histories, cached!.histories, 'the same histories');
  // Without a cache every workflow task (and query) ran the code again from the start.
  for (const [i, { tasks, invocations }] of invocationCounts[1]!.entries()) {
    assert.equal(
      invocations >= tasks,
      true,
      `workflow ${i}: ${invocations} runs for ${tasks} tasks`,
    );
    if (tasks > 1)
      assert.equal(
        invocations > invocationCounts[0]![i]!.invocations,
        true,
        `workflow ${i}: the uncached worker replayed more than the cached one`,
      );
  }
}

/** Sends a signal and waits until a workflow task has seen it (the `count`th signal of the run). */
async function signalAndWait(
  handle: WorkflowHandle,
  count: number,
  name: string,
  ...args: unknown[]
): Promise<void> {
  await handle.signal(name, ...args);
  await waitForSignalsHandled(handle, count);
}

/** Needs the signal to commit before the held task's completion: only SQLite's single writer queue orders them. */
const SQLITE_ORDER_ONLY =
  TEST_STORE === 'postgres'
    ? 'the signal is ordered before the completion by the SQLite writer queue (the rule itself: test/state)'
    : false;

test('replay: signals buffered until a late handler, in order', async () => {
  await cachedAndUncachedAgree(async ({ env, probe, id }) => {
    const handle = await env.client.workflow.start(workflows.lateHandler, {
      taskQueue: env.taskQueue,
      workflowId: id('late'),
      args: ['activity', 3],
    });
    const key = `late-${handle.workflowId}`;
    await within(10_000, 'activity start', probe.event(`${key}:started`).promise);
    await signalAndWait(handle, 1, 'add', 'x');
    await signalAndWait(handle, 2, 'add', 'y');
    const whileBuffered = await handle.query(workflows.itemsQuery);
    await signalAndWait(handle, 3, 'add', 'z');
    probe.event(`${key}:release`).resolve(undefined);
    return { values: [whileBuffered, await handle.result()], handles: [handle] };
  });
});

test('replay: a removed handler, re-registered from a signal handler', async () => {
  await cachedAndUncachedAgree(async ({ env, id }) => {
    const handle = await env.client.workflow.start(workflows.removableHandler, {
      taskQueue: env.taskQueue,
      workflowId: id('removable'),
    });
    await waitForEvent(handle, 'WorkflowTaskCompleted');
    await signalAndWait(handle, 1, 'add', 'a');
    const afterFirst = await handle.query(workflows.phaseQuery);
    await signalAndWait(handle, 2, 'add', 'b');
    await signalAndWait(handle, 3, 'add', 'c');
    const whileRemoved = await handle.query(workflows.phaseQuery);
    await handle.signal(workflows.reregister);
    return { values: [afterFirst, whileRemoved, await handle.result()], handles: [handle] };
  });
});

test('replay: a default signal handler set late', async () => {
  await cachedAndUncachedAgree(async ({ env, probe, id }) => {
    const handle = await env.client.workflow.start(workflows.dynamicSignals, {
      taskQueue: env.taskQueue,
      workflowId: id('dynamic'),
      args: [true, 3],
    });
    const key = `dynamic-${handle.workflowId}`;
    await within(10_000, 'activity start', probe.event(`${key}:started`).promise);
    await signalAndWait(handle, 1, 'one', 1);
    await signalAndWait(handle, 2, 'add', 'named');
    await signalAndWait(handle, 3, 'two', { n: 2 });
    probe.event(`${key}:release`).resolve(undefined);
    await waitForEvent(handle, 'ActivityTaskCompleted');
    await handle.signal('three', null);
    return { values: [await handle.result()], handles: [handle] };
  });
});

test('replay: updates accepted, rejected (speculative task), failed, deduplicated and completed across signals', async () => {
  await cachedAndUncachedAgree(async ({ env, id }) => {
    const handle = await env.client.workflow.start(workflows.updatable, {
      taskQueue: env.taskQueue,
      workflowId: id('updates'),
    });
    const values: unknown[] = [];
    const settle = (p: Promise<unknown>) =>
      p.then(
        (value) => ({ value }),
        (error: unknown) => ({ error: (error as Error).message.replace(/\(.*?\)/, '(id)') }),
      );
    values.push(
      await settle(handle.executeUpdate(workflows.addAmount, { args: [5], updateId: 'a' })),
    );
    values.push(await settle(handle.executeUpdate('noSuchUpdate', { args: [] })));
    values.push(
      await settle(handle.executeUpdate(workflows.refuse, { args: ['no'], updateId: 'r' })),
    );
    values.push(
      await settle(handle.executeUpdate(workflows.addAmount, { args: [6], updateId: 'b' })),
    );
    values.push(
      await settle(handle.executeUpdate(workflows.addAmount, { args: [6], updateId: 'a' })),
    );
    const slow = await handle.startUpdate(workflows.slowDouble, {
      args: [8],
      updateId: 's',
      waitForStage: 'ACCEPTED',
    });
    values.push(await handle.query(workflows.totalsQuery));
    values.push(await settle(handle.executeUpdate('noSuchUpdate', { args: [] })));
    await handle.signal(workflows.release);
    values.push(await slow.result());
    values.push(await handle.query(workflows.totalsQuery));
    await handle.signal(workflows.finish);
    values.push(await handle.result());
    values.push(await handle.query(workflows.totalsQuery));
    return { values, handles: [handle] };
  });
});

test(
  'replay: a workflow that tried to close over an unseen signal',
  { skip: SQLITE_ORDER_ONLY },
  async () => {
    await cachedAndUncachedAgree(
      async ({ env, id }) => {
        const workflowId = id('unseen');
        const inTask = new Deferred();
        workflows.hooks.set(workflowId, () => inTask.resolve());
        try {
          const handle = await env.client.workflow.start(workflows.returnsWithUnseenSignal, {
            taskQueue: env.taskQueue,
            workflowId,
          });
          await within(10_000, 'the task that returns', inTask.promise);
          await handle.signal(workflows.add, 'late');
          return { values: [await handle.result()], handles: [handle] };
        } finally {
          workflows.hooks.delete(workflowId);
        }
        // The signal must arrive while the task is held, not inside the transaction running it.
      },
      { runWorkflowTasksNow: false },
    );
  },
);

test('replay: queries between signals and after completion', async () => {
  await cachedAndUncachedAgree(async ({ env, id }) => {
    const handle = await env.client.workflow.start(workflows.queryable, {
      taskQueue: env.taskQueue,
      workflowId: id('queries'),
    });
    // Before its first task the code has not registered its handlers yet (see messages-queries).
    await waitForEvent(handle, 'WorkflowTaskCompleted');
    const values: unknown[] = [await handle.query(workflows.countQuery)];
    await signalAndWait(handle, 1, 'add', '4');
    values.push(await handle.query(workflows.describeQuery, 'one'));
    await signalAndWait(handle, 2, 'add', '5');
    values.push(await handle.query(workflows.describeQuery, 'two'));
    await handle.signal(workflows.finish);
    values.push(await handle.result());
    values.push(await handle.query(workflows.describeQuery, 'closed'));
    return { values, handles: [handle] };
  });
});

test('replay: signal-with-start and a signal from another workflow', async () => {
  await cachedAndUncachedAgree(async ({ env, id }) => {
    const target = await env.client.workflow.signalWithStart(workflows.collect, {
      taskQueue: env.taskQueue,
      workflowId: id('target'),
      args: [3],
      signal: workflows.other,
      signalArgs: ['with start'],
    });
    await waitForSignalsHandled(target, 1);
    const sender = await env.client.workflow.start(workflows.signalOther, {
      taskQueue: env.taskQueue,
      workflowId: id('sender'),
      args: [target.workflowId, 'from the sender'],
    });
    const sent = await sender.result();
    await waitForSignalsHandled(target, 2);
    const again = await env.client.workflow.signalWithStart(workflows.collect, {
      taskQueue: env.taskQueue,
      workflowId: target.workflowId,
      args: [99],
      signal: workflows.add,
      signalArgs: ['second with start'],
    });
    const lost = await env.client.workflow.execute(workflows.signalOther, {
      taskQueue: env.taskQueue,
      workflowId: id('lost'),
      args: ['nobody', 'lost'],
    });
    return {
      values: [sent, await again.result(), lost],
      handles: [target, sender, env.client.workflow.getHandle(id('lost'))],
    };
  });
});

test('replay: condition with a timeout, timing out and woken in time', async () => {
  await cachedAndUncachedAgree(async ({ env, id }) => {
    const late = await env.client.workflow.start(workflows.waitsForWake, {
      taskQueue: env.taskQueue,
      workflowId: id('times-out'),
      args: ['150ms'],
    });
    const inTime = await env.client.workflow.start(workflows.waitsForWake, {
      taskQueue: env.taskQueue,
      workflowId: id('in-time'),
      args: ['1 hour'],
    });
    await waitForEvent(inTime, 'TimerStarted');
    await inTime.signal(workflows.wake, 'someone');
    const values = [await late.result(), await inTime.result()];
    assert.equal(eventsOfType(await historyOf(inTime), 'TimerCanceled').length, 1);
    return { values, handles: [late, inTime] };
  });
});

test('replay: an async signal handler awaited with allHandlersFinished', async () => {
  await cachedAndUncachedAgree(async ({ env, id }) => {
    const handle = await env.client.workflow.start(workflows.asyncSignalHandler, {
      taskQueue: env.taskQueue,
      workflowId: id('async-handler'),
      args: [true],
    });
    await waitForEvent(handle, 'WorkflowTaskCompleted');
    await handle.signal(workflows.add, 'v');
    return { values: [await handle.result()], handles: [handle] };
  });
});

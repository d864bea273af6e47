/**
 * Sticky queues (PostgreSQL, a store shared by processes): a run's workflow tasks go to the worker
 * that has it cached; a worker shutting down hands its runs back at once. (The fallback after the
 * sticky timeout, when a worker dies, is tested with a killed process in test/faults.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HistoryEvent, WorkflowHandle } from 'keel/client';
import { TEST_STORE, withTestEnv } from '../helpers/env.ts';
import { historyOf, waitFor, withOwnWorkers, within } from '../fixtures/integration-support.ts';
import { workflows } from '../fixtures/messages-support.ts';

const onPostgres = TEST_STORE === 'postgres';

/** Identities of the workers that completed the run's workflow tasks, in order. */
function completers(events: HistoryEvent[]): string[] {
  return events.flatMap((e) =>
    e.eventType === 'WorkflowTaskCompleted' ? [e.attributes.identity] : [],
  );
}

/** Sends signal `value` and waits until a workflow task has handled it. */
async function signalAndWait(handle: WorkflowHandle, value: string): Promise<string[]> {
  const before = completers(await historyOf(handle)).length;
  await handle.signal(workflows.add, value);
  return waitFor(`the task handling ${value}`, async () => {
    const done = completers(await historyOf(handle));
    return done.length > before && done;
  });
}

test(
  'every workflow task of a run goes to the worker that completed its first, of two polling its queue',
  {
    skip: !onPostgres && 'sticky queues are for stores shared by processes; SQLite is one process',
  },
  async () => {
    await withTestEnv(async (env) => {
      await withOwnWorkers(env, async (start) => {
        await start({ workflows, identity: 'worker-a' });
        await start({ workflows, identity: 'worker-b' });
        const handle = await env.client.workflow.start(workflows.collect, {
          taskQueue: env.taskQueue,
          workflowId: 'sticky-run',
          args: [12],
        });
        // Each signal after the first task has completed gets a task of its own (a signal sent
        // before would share the first one).
        await waitFor('the first task', async () => completers(await historyOf(handle)).length > 0);
        for (let i = 0; i < 12; i++) await signalAndWait(handle, `s${i}`);
        assert.equal((await within(10_000, 'result', handle.result())).length, 12);
        const done = completers(await historyOf(handle));
        assert.ok(done.length >= 13, `${done.length} tasks`);
        assert.deepEqual(new Set(done), new Set([done[0]]), `completed by ${done.join(', ')}`);
      });
    });
  },
);

test(
  'a worker shutting down hands its sticky runs to the others at once, not after the sticky timeout',
  {
    skip: !onPostgres && 'sticky queues are for stores shared by processes; SQLite is one process',
  },
  async () => {
    await withTestEnv(async (env) => {
      await withOwnWorkers(env, async (start) => {
        const options = { workflows, stickyQueueScheduleToStartTimeout: '60s' };
        const a = await start({ ...options, identity: 'worker-a' });
        const handle = await env.client.workflow.start(workflows.collect, {
          taskQueue: env.taskQueue,
          workflowId: 'sticky-handover',
          args: [2],
        });
        await signalAndWait(handle, 'first');
        const b = await start({ ...options, identity: 'worker-b' });
        await a.stop();
        const began = Date.now();
        await handle.signal(workflows.add, 'second');
        assert.deepEqual(await within(10_000, 'result', handle.result()), [
          'add:first',
          'add:second',
        ]);
        const waited = Date.now() - began;
        assert.ok(waited < 5_000, `took ${waited} ms`);
        assert.equal(completers(await historyOf(handle)).at(-1), 'worker-b');
        await b.stop();
      });
    });
  },
);

test(
  'on a one-process store (SQLite) workers use no sticky queue',
  { skip: onPostgres && 'SQLite only' },
  async () => {
    await withTestEnv(async (env) => {
      await env.startWorker({ workflows });
      const handle = await env.client.workflow.start(workflows.collect, {
        taskQueue: env.taskQueue,
        workflowId: 'not-sticky',
        args: [1],
      });
      await signalAndWait(handle, 'x');
      await handle.result();
      assert.equal(env.store.sharedByProcesses, false);
      assert.equal((await env.store.getExecution(handle.firstExecutionRunId!))?.sticky, undefined);
    });
  },
);

/**
 * Updates end to end: results and their history, validators and unknown names (rejections leave no
 * trace), deduplication by update id, waiting for the ACCEPTED stage, failing handlers, worker
 * restarts, and updates to closed workflows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ApplicationFailure,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type HistoryEvent,
} from 'keel/client';
import { withTestEnv } from '../helpers/env.ts';
import {
  ActivityProbe,
  eventsOfType,
  historyOf,
  waitFor,
  waitForEvent,
  withOwnWorkers,
  within,
} from '../fixtures/integration-support.ts';
import { createMessagesActivities } from '../fixtures/messages-activities.ts';
import { assertInstanceOf, startMessagesWorker, workflows } from '../fixtures/messages-support.ts';

async function updateError(promise: Promise<unknown>, timeoutMs = 10_000): Promise<Error> {
  return within(timeoutMs, 'the update', promise).then(
    (value) => assert.fail(`the update should fail, but returned ${JSON.stringify(value)}`),
    (e: unknown) => e as Error,
  );
}

/** Event ids run 1, 2, 3, ... without gaps (a discarded speculative task must not leave holes). */
function assertContiguous(events: HistoryEvent[]): void {
  assert.deepEqual(
    events.map((e) => e.eventId),
    events.map((_, i) => i + 1),
  );
}

test("executeUpdate returns the handler's result, and the history records it accepted and completed", async () => {
  await withTestEnv(async (env) => {
    await startMessagesWorker(env);
    const handle = await env.client.workflow.start(workflows.updatable, {
      taskQueue: env.taskQueue,
      workflowId: 'update-result',
    });
    assert.equal(await handle.executeUpdate(workflows.addAmount, { args: [5], updateId: 'u1' }), 5);
    assert.equal(
      await handle.executeUpdate(workflows.addAmount, { args: [7], updateId: 'u2' }),
      12,
    );
    assert.equal(await handle.executeUpdate('addAmount', { args: [1] }), 13, 'by name');

    const events = await historyOf(handle);
    const accepted = eventsOfType(events, 'WorkflowExecutionUpdateAccepted');
    const completed = eventsOfType(events, 'WorkflowExecutionUpdateCompleted');
    assert.equal(accepted.length, 3);
    assert.equal(completed.length, 3);
    assert.equal(accepted[0]!.attributes.updateId, 'u1');
    assert.equal(accepted[0]!.attributes.name, 'addAmount');
    assert.deepEqual(accepted[0]!.attributes.input, [5]);
    assert.equal(completed[0]!.attributes.updateId, 'u1');
    assert.equal(completed[0]!.attributes.acceptedEventId, accepted[0]!.eventId);
    assert.deepEqual(completed[0]!.attributes.outcome, { success: 5 });
    assert.deepEqual(completed[1]!.attributes.outcome, { success: 12 });
    // Each was accepted, then completed, by a completed workflow task.
    for (let i = 0; i < 3; i++) {
      assert.equal(completed[i]!.eventId > accepted[i]!.eventId, true);
      const task = events.find(
        (e) => e.eventId === accepted[i]!.attributes.workflowTaskCompletedEventId,
      );
      assert.equal(task?.eventType, 'WorkflowTaskCompleted');
    }
    assertContiguous(events);

    await handle.signal(workflows.finish);
    assert.deepEqual(await within(10_000, 'result', handle.result()), {
      total: 13,
      handled: 3,
      log: ['add 5', 'add 7', 'add 1'],
    });
  });
});

test(
  'a validator that throws rejects the update with WorkflowUpdateFailedError and writes nothing to the history of an idle workflow',
  {},
  async () => {
    await withTestEnv(async (env) => {
      await startMessagesWorker(env);
      const handle = await env.client.workflow.start(workflows.updatable, {
        taskQueue: env.taskQueue,
        workflowId: 'update-validator',
      });
      assert.equal(await handle.executeUpdate(workflows.addAmount, { args: [5] }), 5);
      const before = await historyOf(handle);
      const error = await updateError(
        handle.executeUpdate(workflows.addAmount, { args: [-3], updateId: 'negative' }),
        2_000,
      );
      assertInstanceOf(error, WorkflowUpdateFailedError);
      assert.match(error.message, /addAmount/);
      assert.match(error.message, /negative/);
      assert.match((error.cause as Error).message, /negative amount -3/);
      assert.deepEqual(await historyOf(handle), before, 'the rejection left no trace');
      assert.deepEqual(
        env.logs.lines.filter((l) => l.level === 'error'),
        [],
        'no workflow task failed',
      );
      // The run goes on, and its history stays gap-free.
      assert.equal(await handle.executeUpdate(workflows.addAmount, { args: [1] }), 6);
      assertContiguous(await historyOf(handle));
      assert.deepEqual(await handle.query(workflows.totalsQuery), {
        total: 6,
        handled: 2,
        log: ['add 5', 'add 1'],
      });
    });
  },
);

test(
  'a validator rejection in the same workflow task as a signal records the signal and nothing of the update',
  {},
  async () => {
    await withTestEnv(async (env) => {
      await withOwnWorkers(env, async (start) => {
        const activities = createMessagesActivities(new ActivityProbe());
        const first = await start({ workflows, activities });
        const handle = await env.client.workflow.start(workflows.updatable, {
          taskQueue: env.taskQueue,
          workflowId: 'update-validator-busy',
        });
        await waitForEvent(handle, 'WorkflowTaskCompleted');
        await first.stop();
        // With no worker, the signal and the update wait for the same task.
        await handle.signal(workflows.release);
        const rejected = handle.executeUpdate(workflows.addAmount, { args: [-1] });
        await start({ workflows, activities });
        const error = await updateError(rejected, 2_000);
        assertInstanceOf(error, WorkflowUpdateFailedError);
        const events = await historyOf(handle);
        assert.equal(eventsOfType(events, 'WorkflowExecutionSignaled').length, 1);
        assert.equal(eventsOfType(events, 'WorkflowExecutionUpdateAccepted').length, 0);
        assert.equal(eventsOfType(events, 'WorkflowExecutionUpdateCompleted').length, 0);
        assert.equal(eventsOfType(events, 'WorkflowTaskFailed').length, 0);
        assertContiguous(events);
      });
    });
  },
);

test('an update of an unknown name is rejected, naming the registered updates, and leaves no trace (speculative task)', async () => {
  await withTestEnv(async (env) => {
    await startMessagesWorker(env);
    const handle = await env.client.workflow.start(workflows.updatable, {
      taskQueue: env.taskQueue,
      workflowId: 'update-unknown',
    });
    assert.equal(await handle.executeUpdate(workflows.addAmount, { args: [2] }), 2);
    // The workflow is idle now: nothing but the update would give it a task.
    const before = await historyOf(handle);
    for (let i = 0; i < 3; i++) {
      const error = await updateError(handle.executeUpdate('noSuchUpdate', { args: [i] }));
      assertInstanceOf(error, WorkflowUpdateFailedError);
      assert.match(error.message, /'noSuchUpdate'/);
      assert.match(error.message, /rejected/);
      assert.match(error.message, /Registered updates: addAmount, slowDouble, refuse/);
      assertInstanceOf(error.cause, ApplicationFailure);
      assert.equal(error.cause.type, 'UpdateNotRegistered');
      assert.deepEqual(await historyOf(handle), before, `rejection ${i + 1} left no trace`);
    }
    // The run goes on from where it was; ids continue without gaps.
    assert.equal(await handle.executeUpdate(workflows.addAmount, { args: [3] }), 5);
    await handle.signal(workflows.finish);
    assert.deepEqual(await within(10_000, 'result', handle.result()), {
      total: 5,
      handled: 2,
      log: ['add 2', 'add 3'],
    });
    const events = await historyOf(handle);
    assertContiguous(events);
    assert.equal(eventsOfType(events, 'WorkflowTaskFailed').length, 0);
    assert.equal(eventsOfType(events, 'WorkflowExecutionUpdateAccepted').length, 2);
  });
});

test('the same updateId twice returns the same result and runs the handler once', async () => {
  await withTestEnv(async (env) => {
    await startMessagesWorker(env);
    const handle = await env.client.workflow.start(workflows.updatable, {
      taskQueue: env.taskQueue,
      workflowId: 'update-dedup',
    });
    assert.equal(
      await handle.executeUpdate(workflows.addAmount, { args: [10], updateId: 'once' }),
      10,
    );
    // Again after it completed, even with other args: the first outcome.
    assert.equal(
      await handle.executeUpdate(workflows.addAmount, { args: [10], updateId: 'once' }),
      10,
    );
    assert.equal(
      await handle.executeUpdate(workflows.addAmount, { args: [99], updateId: 'once' }),
      10,
    );
    // Concurrently, before either is handled.
    const [a, b] = await Promise.all([
      handle.executeUpdate(workflows.addAmount, { args: [1], updateId: 'twice' }),
      handle.executeUpdate(workflows.addAmount, { args: [1], updateId: 'twice' }),
    ]);
    assert.equal(a, 11);
    assert.equal(b, 11);
    // Through another handle to the same workflow.
    assert.equal(
      await env.client.workflow
        .getHandle('update-dedup')
        .executeUpdate(workflows.addAmount, { args: [1], updateId: 'twice' }),
      11,
    );
    assert.deepEqual(await handle.query(workflows.totalsQuery), {
      total: 11,
      handled: 2,
      log: ['add 10', 'add 1'],
    });
    const accepted = eventsOfType(await historyOf(handle), 'WorkflowExecutionUpdateAccepted');
    assert.deepEqual(
      accepted.map((e) => e.attributes.updateId),
      ['once', 'twice'],
    );
    await handle.terminate('test over');
  });
});

test("startUpdate({ waitForStage: 'ACCEPTED' }) returns before an async handler finishes; getUpdateHandle(id).result() gives its result later", async () => {
  await withTestEnv(async (env) => {
    await startMessagesWorker(env);
    const handle = await env.client.workflow.start(workflows.updatable, {
      taskQueue: env.taskQueue,
      workflowId: 'update-accepted',
    });
    const updateHandle = await within(
      10_000,
      'startUpdate',
      handle.startUpdate(workflows.slowDouble, {
        args: [21],
        updateId: 'slow',
        waitForStage: 'ACCEPTED',
      }),
    );
    assert.equal(updateHandle.updateId, 'slow');
    assert.equal(updateHandle.workflowId, 'update-accepted');
    assert.equal(updateHandle.workflowRunId, handle.firstExecutionRunId);
    const events = await historyOf(handle);
    assert.equal(eventsOfType(events, 'WorkflowExecutionUpdateAccepted').length, 1);
    assert.equal(eventsOfType(events, 'WorkflowExecutionUpdateCompleted').length, 0);
    assert.deepEqual((await handle.query(workflows.totalsQuery)).log, ['slow 21 started']);

    await handle.signal(workflows.release);
    // A handle made from the id alone, through another handle object.
    const byId = env.client.workflow.getHandle('update-accepted').getUpdateHandle<number>('slow');
    assert.equal(await within(10_000, 'result by id', byId.result()), 42);
    assert.equal(await within(10_000, 'result', updateHandle.result()), 42);
    const completed = eventsOfType(await historyOf(handle), 'WorkflowExecutionUpdateCompleted');
    assert.equal(completed.length, 1);
    assert.deepEqual(completed[0]!.attributes.outcome, { success: 42 });

    // waitForStage 'COMPLETED' returns only with the result there.
    const done = await handle.startUpdate(workflows.addAmount, {
      args: [1],
      waitForStage: 'COMPLETED',
    });
    assert.equal(
      eventsOfType(await historyOf(handle), 'WorkflowExecutionUpdateCompleted').length,
      2,
    );
    assert.equal(await done.result(), 1);
    await handle.terminate('test over');
  });
});

test('getUpdateHandle() of an id never sent fails with WorkflowNotFoundError naming the update', async () => {
  await withTestEnv(async (env) => {
    await startMessagesWorker(env);
    const handle = await env.client.workflow.start(workflows.updatable, {
      taskQueue: env.taskQueue,
      workflowId: 'update-handle-unknown',
    });
    const error = await updateError(handle.getUpdateHandle('never-sent').result());
    assertInstanceOf(error, WorkflowNotFoundError);
    assert.match(error.message, /'never-sent'/);
    await handle.terminate('test over');
  });
});

test('an update handler that throws an ApplicationFailure fails the update (with the cause), not the workflow', async () => {
  await withTestEnv(async (env) => {
    await startMessagesWorker(env);
    const handle = await env.client.workflow.start(workflows.updatable, {
      taskQueue: env.taskQueue,
      workflowId: 'update-fails',
    });
    const error = await updateError(handle.executeUpdate(workflows.refuse, { args: ['closed'] }));
    assertInstanceOf(error, WorkflowUpdateFailedError);
    assert.match(error.message, /refuse/);
    assert.match(error.message, /failed/);
    assertInstanceOf(error.cause, ApplicationFailure);
    assert.equal(error.cause.message, 'refused: closed');
    assert.equal(error.cause.type, 'Refused');
    assert.deepEqual(error.cause.details, ['closed']);

    const events = await historyOf(handle);
    const accepted = eventsOfType(events, 'WorkflowExecutionUpdateAccepted');
    const completed = eventsOfType(events, 'WorkflowExecutionUpdateCompleted');
    assert.equal(accepted.length, 1, 'the update was accepted: the validator passed');
    assert.equal(completed.length, 1);
    const outcome = completed[0]!.attributes.outcome;
    assert.equal('failure' in outcome && outcome.failure.message, 'refused: closed');
    assert.equal(eventsOfType(events, 'WorkflowTaskFailed').length, 0);

    // The workflow runs on and takes more updates.
    assert.equal((await handle.describe()).status.name, 'Running');
    assert.equal(await handle.executeUpdate(workflows.addAmount, { args: [4] }), 4);
    await handle.signal(workflows.finish);
    assert.deepEqual(await within(10_000, 'result', handle.result()), {
      total: 4,
      handled: 1,
      log: ['refuse closed', 'add 4'],
    });
  });
});

test("an accepted update's result survives a worker restart before its handler completes", async () => {
  await withTestEnv(async (env) => {
    await withOwnWorkers(env, async (start) => {
      const activities = createMessagesActivities(new ActivityProbe());
      const first = await start({ workflows, activities, identity: 'first' });
      const handle = await env.client.workflow.start(workflows.updatable, {
        taskQueue: env.taskQueue,
        workflowId: 'update-restart',
      });
      const executing = handle.executeUpdate(workflows.slowDouble, {
        args: [50],
        updateId: 'across-restart',
      });
      executing.catch(() => undefined);
      const accepted = await handle.startUpdate(workflows.slowDouble, {
        args: [50],
        updateId: 'across-restart',
        waitForStage: 'ACCEPTED',
      });
      await first.stop();

      await start({ workflows, activities, identity: 'second' });
      await handle.signal(workflows.release);
      assert.equal(await within(10_000, 'executeUpdate', executing), 100);
      assert.equal(await within(10_000, 'update handle', accepted.result()), 100);

      const events = await historyOf(handle);
      assert.equal(eventsOfType(events, 'WorkflowExecutionUpdateAccepted').length, 1);
      const completed = eventsOfType(events, 'WorkflowExecutionUpdateCompleted');
      assert.equal(completed.length, 1);
      assert.deepEqual(completed[0]!.attributes.outcome, { success: 100 });
      const completedBy = events.find(
        (e) => e.eventId === completed[0]!.attributes.workflowTaskCompletedEventId,
      );
      assert.equal(
        completedBy?.eventType === 'WorkflowTaskCompleted' && completedBy.attributes.identity,
        'second',
      );
      await handle.signal(workflows.finish);
      assert.deepEqual(await within(10_000, 'result', handle.result()), {
        total: 0,
        handled: 0,
        log: ['slow 50 started', 'slow 50 done'],
      });
    });
  });
});

test('an update to a closed workflow fails with WorkflowNotFoundError; one pending when the run is terminated fails with WorkflowUpdateFailedError', async () => {
  await withTestEnv(async (env) => {
    await withOwnWorkers(env, async (start) => {
      const activities = createMessagesActivities(new ActivityProbe());
      const worker = await start({ workflows, activities });
      const done = await env.client.workflow.start(workflows.updatable, {
        taskQueue: env.taskQueue,
        workflowId: 'update-closed',
      });
      assert.equal(
        await done.executeUpdate(workflows.addAmount, { args: [1], updateId: 'old' }),
        1,
      );
      await done.signal(workflows.finish);
      await done.result();
      const closed = await updateError(done.executeUpdate(workflows.addAmount, { args: [1] }));
      assertInstanceOf(closed, WorkflowNotFoundError);
      assert.match(closed.message, /'update-closed'/);
      assert.match(closed.message, /Completed/);
      // An update it completed before still has its result.
      assert.equal(
        await done.executeUpdate(workflows.addAmount, { args: [1], updateId: 'old' }),
        1,
      );

      const pending = await env.client.workflow.start(workflows.updatable, {
        taskQueue: env.taskQueue,
        workflowId: 'update-terminated',
      });
      await waitForEvent(pending, 'WorkflowTaskCompleted');
      await worker.stop();
      const waiting = pending.executeUpdate(workflows.addAmount, { args: [1] });
      waiting.catch(() => undefined);
      // Terminate only once the update is admitted (else it would find the run closed).
      await waitFor('the update to be admitted', async () => {
        const state = await env.store.getExecution(pending.firstExecutionRunId!);
        return Object.keys(state?.updates ?? {}).length > 0;
      });
      await pending.terminate('gone');
      const error = await updateError(waiting);
      assertInstanceOf(error, WorkflowUpdateFailedError);
      assert.match(error.message, /Terminated/);
    });
  });
});

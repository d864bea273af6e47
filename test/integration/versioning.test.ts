/**
 * Versioning across real deploys: runs started on one version of the code continue on the next,
 * with workers restarted in between and every workflow task replayed (no cache).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WorkflowHandle } from 'keel/client';
import { withTestEnv, type TestEnv } from '../helpers/env.ts';
import {
  eventsOfType,
  historyOf,
  waitFor,
  waitForEvent,
  withOwnWorkers,
  type OwnWorker,
} from '../fixtures/integration-support.ts';
import * as activities from '../fixtures/versioning-activities.ts';
import * as versions from '../fixtures/versioning-workflows.ts';

type Version = 'v1' | 'v2' | 'v3' | 'unpatched';

/** Deploys `version` as the workflow type `order`: a new worker that replays every task. */
function deploy(start: (o: object) => Promise<OwnWorker>, version: Version) {
  return start({ workflows: { order: versions[version] }, activities, maxCachedWorkflows: 0 });
}

async function startOrder(env: TestEnv, id: string): Promise<WorkflowHandle> {
  return env.client.workflow.start('order', { taskQueue: env.taskQueue, workflowId: id });
}

/** Waits until the run's steps so far are recorded (it then waits on its next signal). */
async function stepsDone(handle: WorkflowHandle, count: number): Promise<void> {
  await waitFor(
    `${count} steps of ${handle.workflowId}`,
    async () => eventsOfType(await historyOf(handle), 'ActivityTaskCompleted').length >= count,
  );
}

const markers = async (handle: WorkflowHandle) =>
  eventsOfType(await historyOf(handle), 'MarkerRecorded').map((e) => e.attributes.details);

test('patched() across v1 → v2 → v3: every run completes on its own branch', async () => {
  await withTestEnv(async (env) => {
    await withOwnWorkers(env, async (start) => {
      // v1: A waits before the branch point, B has passed it (step two recorded).
      let worker = await deploy(start, 'v1');
      const a = await startOrder(env, 'A');
      const b = await startOrder(env, 'B');
      await stepsDone(a, 1);
      await stepsDone(b, 1);
      await b.signal(versions.proceed);
      await stepsDone(b, 2);
      await worker.stop();

      // v2: B replays its old branch (no marker); A takes the new one; C is new.
      worker = await deploy(start, 'v2');
      await b.signal(versions.finish);
      assert.deepEqual(await b.result(), ['one', 'two']);
      assert.deepEqual(await markers(b), []);
      await a.signal(versions.proceed);
      await a.signal(versions.finish);
      assert.deepEqual(await a.result(), ['one', 'three', 'two']);
      assert.deepEqual(await markers(a), [{ patchId: 'add-three', deprecated: false }]);
      const c = await startOrder(env, 'C');
      await stepsDone(c, 1);
      await c.signal(versions.proceed);
      await stepsDone(c, 3);
      await worker.stop();

      // v3 (patch deprecated): C, which recorded the patch under v2, replays and completes.
      await deploy(start, 'v3');
      await c.signal(versions.finish);
      assert.deepEqual(await c.result(), ['one', 'three', 'two']);
      const d = await startOrder(env, 'D');
      await stepsDone(d, 1);
      await d.signal(versions.proceed);
      await d.signal(versions.finish);
      assert.deepEqual(await d.result(), ['one', 'three', 'two']);
      assert.deepEqual(await markers(d), [{ patchId: 'add-three', deprecated: true }]);
    });
  });
});

test('an unpatched incompatible change is caught: the task fails with the event named; rolling back lets the run complete', async () => {
  await withTestEnv(async (env) => {
    await withOwnWorkers(env, async (start) => {
      let worker = await deploy(start, 'v1');
      const run = await startOrder(env, 'E');
      await stepsDone(run, 1);
      await run.signal(versions.proceed);
      await stepsDone(run, 2);
      await worker.stop();

      worker = await deploy(start, 'unpatched');
      await run.signal(versions.finish);
      const failed = await waitForEvent(run, 'WorkflowTaskFailed');
      assert.equal(failed.attributes.cause, 'NonDeterministicError');
      const scheduled = eventsOfType(await historyOf(run), 'ActivityTaskScheduled');
      const two = scheduled.find((e) => e.attributes.activityType === 'two')!;
      assert.match(
        failed.attributes.failure.message,
        new RegExp(
          `history event ${two.eventId} is ActivityTaskScheduled \\(activityType 'two', activityId '2'\\), but the workflow code now made ScheduleActivityTask \\(activityType 'three', activityId '2'\\)`,
        ),
      );
      const described = await run.describe();
      assert.equal(described.status.name, 'Running');
      assert.equal(described.lastWorkflowTaskFailure?.cause, 'NonDeterministicError');
      await worker.stop();

      await deploy(start, 'v1');
      assert.deepEqual(await run.result(), ['one', 'two']);
    });
  });
});

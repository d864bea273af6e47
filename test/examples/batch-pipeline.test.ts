/**
 * The batch pipeline: 100 child workflows in batches of 10, the progress query while a batch is
 * held back, and a malformed record that fails its child and stops the pipeline cleanly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ActivityFailure,
  ApplicationFailure,
  WorkflowFailedError,
  type WorkflowHandle,
} from 'keel/client';
import { ChildWorkflowFailure } from 'keel/workflow';
import { expectInstance } from '../fixtures/expect-instance.ts';
import { withTestEnv, type TestEnv } from '../helpers/env.ts';
import { Deferred, waitFor, within } from '../fixtures/integration-support.ts';
import { createActivities, type RecordSource } from '../../examples/batch-pipeline/activities.ts';
import * as workflows from '../../examples/batch-pipeline/workflows.ts';
import { batchPipeline, progress } from '../../examples/batch-pipeline/workflows.ts';

async function startPipeline(env: TestEnv, source: RecordSource, workflowId: string) {
  await env.startWorker({ workflows, activities: createActivities(source) });
  return env.client.workflow.start(batchPipeline, {
    taskQueue: env.taskQueue,
    workflowId,
    args: [{ records: 100, batchSize: 10 }],
  });
}

/** How many children of the pipeline were started, and how many of them are still running. */
async function children(env: TestEnv, handle: WorkflowHandle) {
  const prefix = `WorkflowType = 'processRecord' AND WorkflowId STARTS_WITH '${handle.workflowId}-record-'`;
  const [started, running] = await Promise.all([
    env.client.workflow.count({ query: prefix }),
    env.client.workflow.count({ query: `${prefix} AND ExecutionStatus = 'Running'` }),
  ]);
  return { started: started.count, running: running.count };
}

const sumOfSquares = (n: number) => ((n - 1) * n * (2 * n - 1)) / 6;

test('100 children in batches of 10: progress is reported while a batch runs, and the results add up', async () => {
  await withTestEnv(async (env) => {
    const release = new Deferred();
    // A failed assertion must not leave record 25's activity waiting: the worker's shutdown would
    // wait for it, and the test would hang instead of reporting the failure.
    try {
      const reached = new Deferred();
      const source: RecordSource = {
        malformed: new Set(),
        processed: [],
        // Record 25 (in batch 3) waits until the test has looked at the progress.
        beforeProcessing: async (index) => {
          if (index !== 25) return;
          reached.resolve();
          await release.promise;
        },
      };
      const handle = await startPipeline(env, source, 'pipeline-1');
      await within(10_000, 'record 25 to start', reached.promise);
      const midway = await waitFor('the rest of batch 3 to complete', async () => {
        const p = await handle.query(progress);
        return p.completed === 29 ? p : undefined;
      });
      assert.deepEqual(midway, {
        total: 100,
        batchSize: 10,
        batch: 3,
        totalBatches: 10,
        completed: 29,
        failed: 0,
        running: 1,
      });
      assert.deepEqual(await children(env, handle), { started: 30, running: 1 }, 'batch 4 waits');
      release.resolve();

      const result = await within(15_000, 'the pipeline result', handle.result());
      assert.deepEqual(result, { processed: 100, checksum: sumOfSquares(100) });
      assert.equal(source.processed.length, 100);
      assert.deepEqual(await children(env, handle), { started: 100, running: 0 });
      assert.deepEqual(await handle.query(progress), {
        total: 100,
        batchSize: 10,
        batch: 10,
        totalBatches: 10,
        completed: 100,
        failed: 0,
        running: 0,
      });
      const { events } = await handle.fetchHistory();
      assert.equal(
        events.filter((e) => e.eventType === 'ChildWorkflowExecutionCompleted').length,
        100,
      );
    } finally {
      release.resolve(undefined);
    }
  });
});

test('a failing child fails the pipeline with a ChildWorkflowFailure naming it, after its batch settled and before the next started', async () => {
  await withTestEnv(async (env) => {
    const source: RecordSource = { malformed: new Set([42]), processed: [] };
    const handle = await startPipeline(env, source, 'pipeline-2');
    const error = await within(15_000, 'the pipeline result', handle.result()).then(
      (value) => assert.fail(`the pipeline should fail; it returned ${JSON.stringify(value)}`),
      (e: unknown) => e,
    );
    expectInstance(error, WorkflowFailedError, String(error));
    const child = error.cause;
    expectInstance(child, ChildWorkflowFailure, String(child));
    assert.equal(child.execution.workflowId, 'pipeline-2-record-42');
    assert.equal(child.workflowType, 'processRecord');
    expectInstance(child.cause, ActivityFailure, String(child.cause));
    assert.equal(child.cause.activityType, 'transformRecord');
    expectInstance(child.cause.cause, ApplicationFailure, String(child.cause.cause));
    assert.equal(child.cause.cause.type, 'MalformedRecord');
    assert.equal(child.cause.cause.message, 'record 42 of pipeline-2 is malformed');

    // The failed child's own run says the same.
    const failedChild = env.client.workflow.getHandle('pipeline-2-record-42');
    assert.equal((await failedChild.describe()).status.name, 'Failed');
    assert.equal((await failedChild.describe()).parent?.workflowId, 'pipeline-2');

    // Batch 5 (records 40-49) settled; batch 6 never started.
    assert.deepEqual(await children(env, handle), { started: 50, running: 0 });
    assert.deepEqual(
      [...source.processed].sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i).filter((i) => i !== 42),
    );
    assert.deepEqual(await handle.query(progress), {
      total: 100,
      batchSize: 10,
      batch: 5,
      totalBatches: 10,
      completed: 49,
      failed: 1,
      running: 0,
    });
    assert.equal((await handle.describe()).status.name, 'Failed');
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withTestEnv } from '../helpers/env.ts';
import * as workflows from '../fixtures/basic-workflows.ts';
import * as activities from '../fixtures/basic-activities.ts';

test('W3 runs three activities in sequence and returns the result', async () => {
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows, activities });
    const result = await env.client.workflow.execute(workflows.w3, {
      taskQueue: env.taskQueue,
      workflowId: 'w3-basic',
      args: [1],
    });
    assert.equal(result, 4);
    const history = await env.client.workflow.getHandle('w3-basic').fetchHistory();
    const types = history.events.map((e) => e.eventType);
    assert.equal(types.filter((t) => t === 'ActivityTaskScheduled').length, 3);
    assert.equal(types.at(-1), 'WorkflowExecutionCompleted');
  });
});

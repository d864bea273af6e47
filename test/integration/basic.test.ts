import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { TestWorkflowEnvironment } from 'keel/testing';
import { Worker } from 'keel/worker';
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

test('a worker can load its workflows from a module path', async () => {
  await withTestEnv(async (env) => {
    await env.startWorker({
      workflowsPath: new URL('../fixtures/basic-workflows.ts', import.meta.url).pathname,
      activities,
    });
    const result = await env.client.workflow.execute('w3', {
      taskQueue: env.taskQueue,
      workflowId: 'from-path',
      args: [10],
    });
    assert.equal(result, 13);
  });
});

test('keel/testing: createLocal gives a private store and a client; teardown removes it', async () => {
  const env = await TestWorkflowEnvironment.createLocal();
  const worker = await Worker.create({
    store: env.store,
    taskQueue: 'local',
    workflows,
    activities,
    handleSignals: false,
  });
  const result = await worker.runUntil(
    env.client.workflow.execute(workflows.w3, {
      taskQueue: 'local',
      workflowId: 'local-1',
      args: [0],
    }),
  );
  assert.equal(result, 3);
  const location = env.store.location.replace(/^sqlite:/, '');
  assert.ok(existsSync(location));
  await env.teardown();
  assert.ok(!existsSync(location), 'teardown deletes the database');
});

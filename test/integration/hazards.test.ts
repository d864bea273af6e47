/** Determinism hazards of workflow code in the main realm: what Keel detects and how it says so. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withTestEnv } from '../helpers/env.ts';
import { waitForEvent } from '../fixtures/integration-support.ts';
import * as activities from '../fixtures/hazard-activities.ts';
import * as workflows from '../fixtures/hazard-workflows.ts';

test('an exported module-level variable changed by workflow code is reported once', async () => {
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows, activities });
    await env.client.workflow.execute(workflows.countsRuns, {
      taskQueue: env.taskQueue,
      workflowId: 'count-1',
    });
    await env.client.workflow.execute(workflows.countsRuns, {
      taskQueue: env.taskQueue,
      workflowId: 'count-2',
    });
    const warnings = env.logs.lines.filter((l) =>
      l.message.includes("Workflow module export 'runsSeen' changed"),
    );
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]!.message,
      /keep workflow state in local variables of the workflow function/,
    );
  });
});

test('calling an activity function directly from workflow code fails the task with what to do instead', async () => {
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows, activities });
    const handle = await env.client.workflow.start(workflows.callsActivityDirectly, {
      taskQueue: env.taskQueue,
      workflowId: 'direct',
    });
    const failed = await waitForEvent(handle, 'WorkflowTaskFailed');
    assert.match(
      failed.attributes.failure.message,
      /An activity function was called directly from workflow code\. Call activities through proxyActivities\(\)/,
    );
    assert.equal(
      await env.client.workflow.execute(workflows.callsActivityProperly, {
        taskQueue: env.taskQueue,
        workflowId: 'proper',
      }),
      'usesContext',
    );
  });
});

/**
 * continueAsNew end to end: state carried across runs, the chain of runs as the history and the
 * client see it, continueAsNewSuggested, another workflow type, and signals to a chain.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HistoryEvent } from 'keel/client';
import { withTestEnv, type TestEnv } from '../helpers/env.ts';
import * as workflows from '../fixtures/composition-workflows.ts';
import { createCompositionActivities } from '../fixtures/composition-activities.ts';
import {
  ActivityProbe,
  eventsOfType,
  historyOf,
  waitFor,
  within,
} from '../fixtures/integration-support.ts';

async function setup(env: TestEnv, continueAsNewSuggestedAtHistoryLength?: number): Promise<void> {
  await env.startWorker({
    workflows,
    activities: createCompositionActivities(new ActivityProbe()),
    ...(continueAsNewSuggestedAtHistoryLength ? { continueAsNewSuggestedAtHistoryLength } : {}),
  });
}

/** Run ids of `workflowId`, oldest first. */
async function runsOf(env: TestEnv, workflowId: string): Promise<string[]> {
  const runs: string[] = [];
  for await (const run of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
    runs.push(run.runId);
  return runs.reverse();
}

async function historyOfRun(env: TestEnv, workflowId: string, runId: string) {
  return historyOf(env.client.workflow.getHandle(workflowId, runId));
}

test('a counter continues as new every 3 steps: state carried, runs linked, each history short, result() of the first handle follows the chain', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const handle = await env.client.workflow.start(workflows.counter, {
      taskQueue: env.taskQueue,
      workflowId: 'counter',
      args: [{ count: 0, target: 10, every: 3, runs: [] }],
    });
    const result = await within(10_000, 'result', handle.result());
    assert.equal(result.count, 10);
    assert.equal(result.runs.length, 4, '0→3, 3→6, 6→9, 9→10');

    const runIds = result.runs.map((r) => r.runId);
    assert.deepEqual(
      await runsOf(env, 'counter'),
      runIds,
      'the runs the workflow saw are the chain',
    );
    assert.equal(runIds[0], handle.firstExecutionRunId);
    result.runs.forEach((run, i) => {
      assert.equal(run.firstExecutionRunId, runIds[0], `run ${i} names the first run`);
      assert.equal(run.continuedFrom, i === 0 ? undefined : runIds[i - 1], `run ${i} links back`);
    });

    // The handle without a run id and a second call of result() agree.
    assert.deepEqual(await env.client.workflow.getHandle('counter').result(), result);

    let total = 0;
    for (const [i, runId] of runIds.entries()) {
      const events = await historyOfRun(env, 'counter', runId);
      total += events.length;
      assert.equal(events.length < 30, true, `run ${i} has ${events.length} events`);
      assert.equal(eventsOfType(events, 'ActivityTaskCompleted').length, i < 3 ? 3 : 1);
      const started = eventsOfType(events, 'WorkflowExecutionStarted')[0]!;
      assert.equal(started.attributes.firstExecutionRunId, runIds[0]);
      assert.deepEqual((started.attributes.input[0] as { count: number }).count, i * 3);
      const last = events.at(-1)!;
      if (i < runIds.length - 1) {
        assert.equal(started.attributes.initiator ?? 'first', i === 0 ? 'first' : 'ContinueAsNew');
        assert.equal(last.eventType, 'WorkflowExecutionContinuedAsNew');
        const continued = last;
        assert.equal(continued.attributes.newExecutionRunId, runIds[i + 1]);
        assert.equal(continued.attributes.workflowType, 'counter');
        const d = await env.client.workflow.getHandle('counter', runId).describe();
        assert.equal(d.status.name, 'ContinuedAsNew');
        assert.equal(d.newExecutionRunId, runIds[i + 1]);
        assert.equal(d.closeTime instanceof Date, true);
      } else {
        assert.equal(last.eventType, 'WorkflowExecutionCompleted');
        const d = await env.client.workflow.getHandle('counter').describe();
        assert.equal(d.runId, runId);
        assert.equal(d.status.name, 'Completed');
        assert.equal(d.newExecutionRunId, undefined);
      }
      if (i > 0) assert.equal(started.attributes.continuedExecutionRunId, runIds[i - 1]);
    }
    assert.equal(total > 60, true, `the whole chain has ${total} events`);
  });
});

test('continueAsNewSuggested turns true once the history reaches continueAsNewSuggestedAtHistoryLength, and false again in the new run', async () => {
  await withTestEnv(async (env) => {
    await setup(env, 20);
    const handle = await env.client.workflow.start(workflows.untilSuggested, {
      taskQueue: env.taskQueue,
      workflowId: 'suggested',
      args: [1, []],
    });
    const log = await within(10_000, 'result', handle.result());
    assert.deepEqual(
      log.map((entry) => entry.runId),
      await runsOf(env, 'suggested'),
    );
    for (const { seen } of log) {
      const last = seen.at(-1)!;
      assert.equal(last.suggested, true, JSON.stringify(seen));
      assert.equal(last.historyLength >= 20, true, JSON.stringify(seen));
      const before = seen.slice(0, -1);
      assert.equal(before.length > 0, true, 'it ran activities before the suggestion');
      for (const s of before) {
        assert.equal(s.suggested, false, JSON.stringify(seen));
        assert.equal(s.historyLength < 20, true, JSON.stringify(seen));
      }
      // Each activation sees the history as of its workflow task: the length grows.
      const lengths = seen.map((s) => s.historyLength);
      assert.deepEqual(
        lengths,
        [...lengths].sort((a, b) => a - b),
      );
      assert.equal(seen[0]!.historyLength, 3, 'a new run starts with a short history');
    }
  });
});

test('makeContinueAsNewFunc continues as another workflow type', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const handle = await env.client.workflow.start(workflows.phaseOne, {
      taskQueue: env.taskQueue,
      workflowId: 'phases',
      args: [20],
    });
    assert.deepEqual(await within(10_000, 'result', handle.result()), {
      value: 41,
      type: 'phaseTwo',
      from: 'phaseOne',
    });
    const [first, second] = await runsOf(env, 'phases');
    const d1 = await env.client.workflow.getHandle('phases', first).describe();
    const d2 = await env.client.workflow.getHandle('phases', second).describe();
    assert.equal(d1.type, 'phaseOne');
    assert.equal(d1.status.name, 'ContinuedAsNew');
    assert.equal(d2.type, 'phaseTwo');
    assert.equal(d2.status.name, 'Completed');
    const events = await historyOfRun(env, 'phases', first!);
    const last = events.at(-1) as HistoryEvent<'WorkflowExecutionContinuedAsNew'>;
    assert.equal(last.attributes.workflowType, 'phaseTwo');
    assert.deepEqual(last.attributes.input, [40, 'phaseOne']);
  });
});

test('signals sent to the workflow id reach whichever run is current, none lost across continue-as-new', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const handle = await env.client.workflow.start(workflows.collectsAcrossRuns, {
      taskQueue: env.taskQueue,
      workflowId: 'collector',
      args: [[], 1, 2],
    });
    const byId = env.client.workflow.getHandle('collector');
    const sent: string[] = [];
    // Two signals per run: each pair makes the current run continue as new.
    for (let round = 1; round <= 3; round++) {
      for (const item of [`r${round}a`, `r${round}b`]) {
        await byId.signal(workflows.add, item);
        sent.push(item);
      }
      await waitFor(
        `run ${round + 1}`,
        async () => (await runsOf(env, 'collector')).length > round,
      );
    }
    // Then a burst: signals arrive while the run tries to continue as new (the engine refuses to
    // close it over unseen signals, and the workflow sees them first).
    for (let i = 0; i < 20; i++) {
      await byId.signal(workflows.add, `burst${i}`);
      sent.push(`burst${i}`);
    }
    await byId.signal(workflows.add, 'done');
    const result = await within(10_000, 'result', handle.result());
    assert.deepEqual(result.items, sent);

    const runIds = await runsOf(env, 'collector');
    assert.equal(result.runs, runIds.length);
    assert.equal(runIds.length >= 4, true, `${runIds.length} runs`);
    // Every signal is in exactly one run's history.
    const signalled: unknown[] = [];
    for (const runId of runIds) {
      for (const e of eventsOfType(
        await historyOfRun(env, 'collector', runId),
        'WorkflowExecutionSignaled',
      ))
        signalled.push(e.attributes.input[0]);
    }
    assert.deepEqual(signalled, [...sent, 'done']);
  });
});

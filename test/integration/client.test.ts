/**
 * The client end to end: workflow id rules, handles and runs, describe(), argument checks, and a
 * second client on the same database file.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from 'keel/client';
import { withTestEnv, type TestEnv } from '../helpers/env.ts';
import * as workflows from '../fixtures/client-workflows.ts';
import { createClientActivities } from '../fixtures/client-activities.ts';
import {
  ActivityProbe,
  eventsOfType,
  historyOf,
  waitFor,
  within,
} from '../fixtures/integration-support.ts';

async function setup(env: TestEnv): Promise<ActivityProbe> {
  const probe = new ActivityProbe();
  await env.startWorker({ workflows, activities: createClientActivities(probe) });
  return probe;
}

test('starting a workflow id that is running throws WorkflowExecutionAlreadyStartedError', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const first = await env.client.workflow.start(workflows.echoAfter, {
      taskQueue: env.taskQueue,
      workflowId: 'dup',
      args: ['first', 60_000],
    });
    const error = await env.client.workflow
      .start(workflows.echoAfter, {
        taskQueue: env.taskQueue,
        workflowId: 'dup',
        args: ['second', 0],
      })
      .then(
        () => assert.fail('the second start should be refused'),
        (e: unknown) => e,
      );
    assert.ok(error instanceof WorkflowExecutionAlreadyStartedError, String(error));
    assert.equal(error.workflowId, 'dup');
    assert.equal(error.workflowType, 'echoAfter');
    assert.match(error.message, /'dup'/);
    // The running run is untouched and still the latest.
    const described = await env.client.workflow.getHandle('dup').describe();
    assert.equal(described.runId, first.firstExecutionRunId);
    assert.equal(described.status.name, 'Running');
    await first.terminate('test over');
  });
});

test('after a run closed, the same id starts a new run, and getHandle(id) follows the latest run', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const opts = { taskQueue: env.taskQueue, workflowId: 'reuse' };
    const first = await env.client.workflow.start(workflows.echoAfter, {
      ...opts,
      args: ['first', 0],
    });
    assert.equal(await first.result(), 'first');
    const latest = env.client.workflow.getHandle('reuse');
    assert.equal((await latest.describe()).runId, first.firstExecutionRunId);

    const second = await env.client.workflow.start(workflows.echoAfter, {
      ...opts,
      args: ['second', 0],
    });
    assert.notEqual(second.firstExecutionRunId, first.firstExecutionRunId);
    // The same unbound handle now resolves to the new run.
    assert.equal(await latest.result(), 'second');
    assert.equal((await latest.describe()).runId, second.firstExecutionRunId);
    const started = eventsOfType(await historyOf(latest), 'WorkflowExecutionStarted')[0]!;
    assert.deepEqual(started.attributes.input, ['second', 0]);
    // A handle bound to the first run still reads the first run.
    const old = env.client.workflow.getHandle('reuse', first.firstExecutionRunId);
    assert.equal(await old.result(), 'first');
    assert.equal((await old.describe()).status.name, 'Completed');
  });
});

test('a handle to an unknown workflow id throws WorkflowNotFoundError naming the id', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const handle = env.client.workflow.getHandle('no-such-workflow');
    for (const [name, call] of [
      ['result', () => handle.result()],
      ['describe', () => handle.describe()],
      ['fetchHistory', () => handle.fetchHistory()],
      ['cancel', () => handle.cancel()],
      ['terminate', () => handle.terminate('x')],
    ] as const) {
      const error = await call().then(
        () => assert.fail(`${name}() should throw`),
        (e: unknown) => e,
      );
      assert.ok(error instanceof WorkflowNotFoundError, `${name}: ${String(error)}`);
      assert.equal(error.workflowId, 'no-such-workflow', name);
      assert.match(error.message, /'no-such-workflow'/, name);
    }
  });
});

test('describe() shows status, type, task queue and pending activities with state, attempt and last failure', async () => {
  await withTestEnv(async (env) => {
    const probe = await setup(env);
    const unpolled = `${env.taskQueue}-unpolled`;
    const handle = await env.client.workflow.start(workflows.threePendingActivities, {
      taskQueue: env.taskQueue,
      workflowId: 'describe-me',
      args: [unpolled],
    });
    try {
      await within(10_000, 'the blocker to start', probe.event('blocker:started').promise);
      const description = await waitFor('the failing activity to be in backoff', async () => {
        const d = await handle.describe();
        return d.pendingActivities.some((a) => a.state === 'BACKOFF') ? d : undefined;
      });
      assert.equal(description.workflowId, 'describe-me');
      assert.equal(description.runId, handle.firstExecutionRunId);
      assert.equal(description.type, 'threePendingActivities');
      assert.equal(description.taskQueue, env.taskQueue);
      assert.equal(description.status.name, 'Running');
      assert.equal(description.closeTime, undefined);
      assert.ok(description.historyLength >= 5, `history length ${description.historyLength}`);
      const byType = new Map(description.pendingActivities.map((a) => [a.activityType, a]));
      assert.equal(byType.size, 3);

      const blocker = byType.get('blocksUntilReleased')!;
      assert.equal(blocker.state, 'STARTED');
      assert.equal(blocker.attempt, 1);
      assert.ok(blocker.lastStartedTime instanceof Date);
      assert.equal(blocker.lastFailureMessage, undefined);

      const failing = byType.get('failsForNow')!;
      assert.equal(failing.state, 'BACKOFF');
      assert.equal(failing.attempt, 2);
      assert.equal(failing.lastFailureMessage, 'not yet, try again later');
      assert.ok(failing.nextAttemptTime instanceof Date);
      const wait = failing.nextAttemptTime.getTime() - Date.now();
      assert.ok(wait > 30_000 && wait <= 60_000, `next attempt in ${wait} ms`);

      const unpolledActivity = byType.get('neverPolled')!;
      assert.equal(unpolledActivity.state, 'SCHEDULED');
      assert.equal(unpolledActivity.attempt, 1);
    } finally {
      probe.event('release').resolve(undefined);
      await handle.terminate('test over');
    }
    const closed = await handle.describe();
    assert.equal(closed.status.name, 'Terminated');
    assert.ok(closed.closeTime instanceof Date);
    assert.deepEqual(closed.pendingActivities, []);
  });
});

test('arguments that cannot be stored are refused at start, naming the path; no run is created', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const cases: [string, unknown[], RegExp][] = [
      ['function', [{ callback: () => 1 }], /'\[0\]\.callback' is a function/],
      ['map', ['ok', { lookup: new Map([['a', 1]]) }], /'\[1\]\.lookup' is a Map/],
      ['set', [[1, new Set([1])]], /'\[0\]\[1\]' is a Set/],
      ['bigint', [{ n: 1n }], /'\[0\]\.n' is a BigInt/],
    ];
    for (const [name, args, pattern] of cases) {
      const error = await env.client.workflow
        .start('echoAfter', { taskQueue: env.taskQueue, workflowId: `bad-args-${name}`, args })
        .then(
          () => assert.fail(`${name}: start should throw`),
          (e: unknown) => e,
        );
      assert.ok(error instanceof TypeError, `${name}: ${String(error)}`);
      assert.match(error.message, /arguments of workflow 'echoAfter'/, name);
      assert.match(error.message, pattern, name);
      await assert.rejects(
        env.client.workflow.getHandle(`bad-args-${name}`).describe(),
        WorkflowNotFoundError,
      );
    }
  });
});

test('a missing taskQueue or workflowId throws TypeError', async () => {
  await withTestEnv(async (env) => {
    const start = (options: Record<string, unknown>) =>
      env.client.workflow.start('echoAfter', options as never);
    await assert.rejects(start({ workflowId: 'x', args: [1, 0] }), {
      name: 'TypeError',
      message: /taskQueue/,
    });
    await assert.rejects(start({ taskQueue: '', workflowId: 'x', args: [1, 0] }), {
      name: 'TypeError',
      message: /taskQueue/,
    });
    await assert.rejects(start({ taskQueue: env.taskQueue, args: [1, 0] }), {
      name: 'TypeError',
      message: /workflowId/,
    });
    await assert.rejects(start({ taskQueue: env.taskQueue, workflowId: '', args: [1, 0] }), {
      name: 'TypeError',
      message: /workflowId/,
    });
    await assert.rejects(
      env.client.workflow.getHandle('x').describe(),
      WorkflowNotFoundError,
      'nothing was started',
    );
  });
});

test('an id, a task queue or a search attribute value cut in the middle of a surrogate pair throws TypeError naming it', async () => {
  await withTestEnv(async (env) => {
    const start = (options: Record<string, unknown>) =>
      env.client.workflow.start('echoAfter', { args: [1, 0], ...options } as never);
    await assert.rejects(start({ taskQueue: env.taskQueue, workflowId: 'order-\ud83d' }), {
      name: 'TypeError',
      message: /^The workflowId "order-\\ud83d" holds half of a UTF-16 surrogate pair/,
    });
    await assert.rejects(start({ taskQueue: 'q\ude00', workflowId: 'x' }), {
      name: 'TypeError',
      message: /^The taskQueue "q\\ude00" holds half/,
    });
    await assert.rejects(
      start({
        taskQueue: env.taskQueue,
        workflowId: 'x',
        searchAttributes: { Customer: { type: 'KeywordList', value: ['ok', 'Zo\ud83d'] } },
      }),
      {
        name: 'TypeError',
        message: /'Customer' has a value holding half of a UTF-16 surrogate pair/,
      },
    );
    await assert.rejects(env.client.workflow.getHandle('x').describe(), WorkflowNotFoundError);
  });
});

test('a second Client on the same file sees the runs of the first, and the other way round', async () => {
  await withTestEnv(async (env) => {
    await setup(env);
    const other = new Client({ connection: env.dbPath });
    try {
      const handle = await env.client.workflow.start(workflows.echoAfter, {
        taskQueue: env.taskQueue,
        workflowId: 'shared-file-1',
        args: ['from the first client', 200],
      });
      const viaOther = other.workflow.getHandle('shared-file-1');
      assert.equal(await within(10_000, 'result', viaOther.result()), 'from the first client');
      assert.equal((await viaOther.describe()).runId, handle.firstExecutionRunId);

      // Started through the second client's own connection, run by the worker on the first.
      const started = await other.workflow.start(workflows.echoAfter, {
        taskQueue: env.taskQueue,
        workflowId: 'shared-file-2',
        args: ['from the second client', 0],
      });
      assert.equal(await within(10_000, 'result', started.result()), 'from the second client');
      assert.equal(
        await env.client.workflow.getHandle('shared-file-2').result(),
        'from the second client',
      );
    } finally {
      await other.close();
    }
  });
});

test('execute() takes the result from the run-closed hint, without reading it; a result too big for a notification is read', async () => {
  await withTestEnv(async (env) => {
    // A read is due after "anything may have changed" (PostgreSQL's LISTEN connection coming up).
    let changes = 0;
    env.store.subscribe((hint) => hint.type === 'external-change' && changes++);
    await setup(env);
    let reads = 0;
    const store = new Proxy(env.store, {
      get(target, property) {
        const value = Reflect.get(target, property) as unknown;
        if (property === 'getOutcome')
          return (runId: string) => (reads++, target.getOutcome(runId));
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const client = new Client({ store });
    try {
      const execute = (workflowId: string, value: string) =>
        within(
          10_000,
          workflowId,
          client.workflow.execute(workflows.echoAfter, {
            taskQueue: env.taskQueue,
            workflowId,
            args: [value, 0],
          }),
        );
      for (const id of ['heard-1', 'heard-2', 'heard-3']) assert.equal(await execute(id, id), id);
      assert.ok(reads <= changes, `${reads} reads, ${changes} external changes`);
      // PostgreSQL's notifications hold under 8000 bytes: the hint comes alone, and the outcome is
      // read (SQLite's hints are in-process, and carry it).
      const big = 'x'.repeat(10_000);
      assert.equal(await execute('big', big), big);
      // A handle's result() listens only from its call on: it reads first.
      reads = 0;
      assert.equal(await client.workflow.getHandle('heard-1').result(), 'heard-1');
      assert.equal(reads, 1);
    } finally {
      await client.close();
    }
  });
});

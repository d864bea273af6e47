/** Hints of ready tasks wake one of the processes polling their queue, not all of them. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import {
  POLLERS_ANNOUNCE_MS,
  PollerDirectory,
  pickedBy,
  spreadTaskHints,
} from '../../src/store/postgres/pollers.ts';
import { hintChannels } from '../../src/store/postgres/notifications.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import type { StoreHint } from '../../src/store/store.ts';
import { Client } from '../../src/client/index.ts';
import { Worker } from '../../src/worker/index.ts';
import * as basicWorkflows from '../fixtures/basic-workflows.ts';
import { freshSchema, POSTGRES_URL } from '../helpers/postgres.ts';
import { eventually } from '../helpers/processes.ts';

const ready = (taskQueue: string, spread?: { pick: number; count: number }): StoreHint => ({
  type: 'task-ready',
  kind: 'activity',
  taskQueue,
  ...(spread ? { spread } : {}),
});

describe('spreading task-ready hints (no database)', () => {
  test('a hint wakes as many pollers as it has tasks, in a ring from its pick, the same for all', () => {
    const pollers = ['c', 'a', 'b'];
    assert.deepEqual(pickedBy({ pick: 0, count: 1 }, pollers), ['a']);
    assert.deepEqual(pickedBy({ pick: 4, count: 1 }, pollers), ['b']);
    assert.deepEqual(pickedBy({ pick: 2, count: 2 }, pollers), ['c', 'a']);
    assert.deepEqual(pickedBy({ pick: 1, count: 9 }, pollers), ['b', 'c', 'a']);
    // Each process sees the others in its own order: the pick does not depend on it.
    assert.deepEqual(pickedBy({ pick: 5, count: 1 }, ['b', 'a', 'c']), ['c']);
  });

  test("a commit's task-ready hints merge per queue and kind; others stay as they were", () => {
    const expiry: StoreHint = { type: 'expiry', at: 5 };
    const workflowTask: StoreHint = { type: 'task-ready', kind: 'workflow', taskQueue: 'q' };
    const picks = new Map([
      ['activity', 7],
      ['workflow', 8],
    ]);
    const spread = spreadTaskHints(
      [ready('q'), expiry, ready('q'), workflowTask, ready('other'), ready('q')],
      (kind, taskQueue) => picks.get(kind)! + (taskQueue === 'other' ? 100 : 0),
    );
    assert.deepEqual(spread, [
      ready('q', { pick: 7, count: 3 }),
      expiry,
      { ...workflowTask, spread: { pick: 8, count: 1 } },
      ready('other', { pick: 107, count: 1 }),
    ]);
  });

  test('a process wakes for the hints that pick it, and for every hint of a queue it does not poll', () => {
    let now = 0;
    const here = new PollerDirectory('b', () => now);
    const stop = here.add([['activity', 'q']]);
    // Alone, it is picked whatever the pick.
    assert.equal(here.wakesHere(ready('q', { pick: 1, count: 1 })), true);
    here.heard('a', [['activity', 'q']]);
    here.heard('c', [['activity', 'other']]);
    assert.deepEqual(here.pollersOf('activity', 'q'), ['b', 'a']);
    // Ring a, b: pick 1 is b (this process), pick 2 is a.
    assert.equal(here.wakesHere(ready('q', { pick: 1, count: 1 })), true);
    assert.equal(here.wakesHere(ready('q', { pick: 2, count: 1 })), false);
    assert.equal(here.wakesHere(ready('q', { pick: 2, count: 2 })), true);
    // Not spread (a process passing a hint on, or of an earlier version): it wakes everyone.
    assert.equal(here.wakesHere(ready('q')), true);
    // Another queue, or another kind of task: the listeners drop what they do not poll.
    assert.equal(here.wakesHere(ready('elsewhere', { pick: 2, count: 1 })), true);
    assert.equal(
      here.wakesHere({
        type: 'task-ready',
        kind: 'workflow',
        taskQueue: 'q',
        spread: { pick: 2, count: 1 },
      }),
      true,
    );
    // A process not heard from for three announcement periods is forgotten (it died unannounced).
    now = 3 * POLLERS_ANNOUNCE_MS + 1;
    assert.deepEqual(here.pollersOf('activity', 'q'), ['b']);
    assert.equal(here.wakesHere(ready('q', { pick: 2, count: 1 })), true);
    // One that says it polls nothing is forgotten at once; this one, once it stops.
    here.heard('a', [['activity', 'q']]);
    assert.equal(here.heard('a', []), false);
    assert.deepEqual(here.pollersOf('activity', 'q'), ['b']);
    stop();
    assert.deepEqual(here.pollersOf('activity', 'q'), []);
    assert.deepEqual(here.polledHere(), []);
  });
});

describe('spreading task-ready hints over PostgreSQL', () => {
  const schemas: ReturnType<typeof freshSchema>[] = [];
  after(async () => {
    for (const schema of schemas) await schema.drop();
  });

  /** Resolves once a NOTIFY sent now on `url`'s work channel reached every one of `stores`. */
  async function barrier(schema: string, heard: StoreHint[][]): Promise<void> {
    const marker = `barrier-${Math.random()}`;
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      const payload = JSON.stringify({ origin: 'test', hints: [ready(marker)] });
      await admin.query('SELECT pg_notify($1, $2)', [hintChannels(schema).work, payload]);
    } finally {
      await admin.end();
    }
    await eventually('every store to hear the barrier', () =>
      heard.every((hints) => hints.some((h) => h.type === 'task-ready' && h.taskQueue === marker))
        ? true
        : undefined,
    );
  }

  test('workflows started one at a time each wake one of three polling processes', async () => {
    const fresh = freshSchema();
    schemas.push(fresh);
    const pollers = Array.from({ length: 3 }, () => PostgresStore.open(fresh.url));
    const heard = pollers.map(() => [] as StoreHint[]);
    pollers.forEach((store, i) => store.subscribe((hint) => heard[i]!.push(hint)));
    const stops = pollers.map((store) => store.announcePolling([['workflow', 'spread']]));
    const client = new Client({ connection: fresh.url });
    try {
      await eventually('the three processes to know each other', () =>
        pollers.every((store) => store.pollingProcesses('workflow', 'spread') === 3)
          ? true
          : undefined,
      );
      // No worker runs: the tasks stay ready, and only the hints are counted.
      for (let i = 0; i < 12; i++)
        await client.workflow.start(basicWorkflows.w3, {
          taskQueue: 'spread',
          workflowId: `spread-${i}`,
          args: [i],
        });
      await barrier(fresh.schema, heard);
      const woken = heard.map(
        (hints) => hints.filter((h) => h.type === 'task-ready' && h.taskQueue === 'spread').length,
      );
      assert.equal(
        woken.reduce((a, b) => a + b),
        12,
        `each start wakes one process: ${woken.join(', ')}`,
      );
      assert.ok(woken.filter((n) => n > 0).length >= 2, `picks are spread: ${woken.join(', ')}`);
      // A process that stops polling is no longer picked.
      stops[2]!();
      await eventually('the others to hear that the third stopped', () =>
        pollers.slice(0, 2).every((store) => store.pollingProcesses('workflow', 'spread') === 2)
          ? true
          : undefined,
      );
    } finally {
      await client.close();
      for (const store of pollers) await store.close();
    }
  });

  test('a worker picked while it has no free slot passes the hint on to every poller', async () => {
    const fresh = freshSchema();
    schemas.push(fresh);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let running!: () => void;
    const activityRunning = new Promise<void>((resolve) => (running = resolve));
    const store = PostgresStore.open(fresh.url);
    const worker = await Worker.create({
      store,
      taskQueue: 'full',
      workflows: basicWorkflows,
      activities: {
        addOne: async (n: number) => {
          running();
          await gate;
          return n + 1;
        },
      },
      maxConcurrentActivityTaskExecutions: 1,
      handleSignals: false,
    });
    const workerRun = worker.run();
    const client = new Client({ connection: fresh.url });
    const other = PostgresStore.open(fresh.url);
    const heardByOther: StoreHint[] = [];
    other.subscribe((hint) => heardByOther.push(hint));
    const stopOther = other.announcePolling([['activity', 'full']]);
    try {
      const handle = await client.workflow.start(basicWorkflows.w3, {
        taskQueue: 'full',
        workflowId: 'full-1',
        args: [1],
      });
      await activityRunning; // the worker's one activity slot is taken
      await eventually('the worker to know the other poller', () =>
        store.pollingProcesses('activity', 'full') === 2 ? true : undefined,
      );
      // A hint that picks both: the worker, full, passes it on; the other process is not full.
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      const payload = JSON.stringify({
        origin: 'test',
        hints: [ready('full', { pick: 0, count: 2 })],
      });
      await admin.query('SELECT pg_notify($1, $2)', [hintChannels(fresh.schema).work, payload]);
      await admin.end();
      const passedOn = await eventually('the hint passed on', () =>
        heardByOther.find((h) => h.type === 'task-ready' && h.taskQueue === 'full' && !h.spread),
      );
      assert.deepEqual(passedOn, ready('full'));
      release();
      assert.equal(await handle.result(), 4);
    } finally {
      release();
      stopOther();
      worker.shutdown();
      await workerRun;
      await client.close();
      await other.close();
      await store.close();
    }
  });
});

/**
 * First responders on PostgreSQL: of the processes polling a queue, one at a time answers its hints
 * at once (the seat is a session advisory lock on its LISTEN connection); idle others answer later,
 * and the seat passes on when its holder withdraws or its connection dies. Each store here stands
 * for a process.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { Client } from 'keel/client';
import { PostgresStore, Worker } from 'keel/worker';
import * as activities from '../fixtures/basic-activities.ts';
import * as workflows from '../fixtures/basic-workflows.ts';
import { waitFor } from '../fixtures/integration-support.ts';
import { freshSchema, POSTGRES_URL, seatHolderQuery } from '../helpers/postgres.ts';

const quiet = { log: () => undefined };

test('one store at a time holds a queue seat; it passes on when its holder withdraws or its connection dies', async () => {
  const { url, schema, drop } = freshSchema();
  const [a, b] = [PostgresStore.open(url), PostgresStore.open(url)];
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    await a.nextExpiry(); // migrated before the two race
    const first = a.firstResponder('orders', 'workflow');
    await waitFor('store a to take the seat', () => first.held);
    const second = b.firstResponder('orders', 'workflow');
    // Another kind and another queue are other seats: b takes them, having tried for the first.
    const activitySeat = b.firstResponder('orders', 'activity');
    const otherQueue = b.firstResponder('billing', 'workflow');
    await waitFor('store b to take the other seats', () => activitySeat.held && otherQueue.held);
    assert.equal(second.held, false);

    // Two candidates of one process share its seat; it is given up with the last of them.
    const alsoFirst = a.firstResponder('orders', 'workflow');
    assert.equal(alsoFirst.held, true);
    first.withdraw();
    assert.equal(first.held, false);
    assert.equal(alsoFirst.held, true);
    alsoFirst.withdraw();
    await waitFor('store b to take the seat a gave up', () => second.held, { timeoutMs: 5000 });

    // b's connection dies: its locks go with it. b reconnects and tries again, as a does: one of
    // them holds the seat afterwards, never both.
    const back = a.firstResponder('orders', 'workflow');
    const holder = async () => {
      const { rows } = await admin.query<{ pid: number }>(
        seatHolderQuery(schema, 'orders', 'workflow'),
      );
      assert.ok(rows.length <= 1, 'one session at most holds a seat');
      return rows[0]?.pid;
    };
    const dead = await holder();
    assert.ok(dead !== undefined);
    await admin.query('SELECT pg_terminate_backend($1)', [dead]);
    await waitFor(
      'a new holder',
      async () => (back.held || second.held) && ((await holder()) ?? dead) !== dead,
      { timeoutMs: 10_000 },
    );
    assert.notEqual(back.held, second.held);

    // The holder's process goes away without withdrawing (its LISTEN session ends): the other
    // takes the seat.
    const [gone, staysSeat] = back.held ? [a, second] : [b, back];
    await gone.close();
    await waitFor('the other store to take the seat', () => staysSeat.held, { timeoutMs: 5000 });
    assert.notEqual(await holder(), undefined);
  } finally {
    await admin.end();
    await Promise.all([a.close(), b.close()]);
    await drop();
  }
});

test('idle workers leave new runs to the first responder, and take them later when it does not answer', async () => {
  const { url, drop } = freshSchema();
  const [firstStore, followerStore, clientStore] = [1, 2, 3].map(() => PostgresStore.open(url));
  const client = new Client({ store: clientStore! });
  const worker = (store: PostgresStore, identity: string) =>
    Worker.create({
      store,
      taskQueue: 'orders',
      workflows,
      activities,
      identity,
      logger: quiet,
      handleSignals: false,
      // Only hints make these workers look: a poll could take a task either way.
      pollIntervalMs: 60_000,
    });
  const first = await worker(firstStore!, 'first');
  const follower = await worker(followerStore!, 'follower');
  const runningFirst = first.run();
  let runningFollower: Promise<void> | undefined;
  // Who ran a workflow's first task, and how long the workflow took.
  const runOne = async (i: number) => {
    const started = performance.now();
    const handle = await client.workflow.start(workflows.w3, {
      taskQueue: 'orders',
      workflowId: `order-${i}`,
      args: [i],
    });
    assert.equal(await handle.result(), i + 3);
    const elapsed = performance.now() - started;
    const { events } = await handle.fetchHistory();
    const taken = events.find((event) => event.eventType === 'WorkflowTaskStarted');
    return { by: (taken?.attributes as { identity: string }).identity, elapsed };
  };
  try {
    await clientStore!.nextExpiry();
    // The first worker's store holds the seat before the follower starts.
    const probe = firstStore!.firstResponder('orders', 'workflow');
    await waitFor('the first worker to take the seat', () => probe.held);
    runningFollower = follower.run();
    // Answering at once, as both did before, they would split the runs about evenly. The follower
    // still looks 100 ms after a hint, and takes a run that another start readied in between.
    const takers = [];
    for (let i = 0; i < 20; i++) takers.push((await runOne(i)).by);
    const byFirst = takers.filter((by) => by === 'first').length;
    assert.ok(
      byFirst >= 16,
      `the first responder took ${byFirst} of 20 runs: ${takers.join(', ')}`,
    );

    // The seat stays with a store whose worker stopped (as a stuck process would hold it): the
    // idle follower takes the new runs after its delay.
    first.shutdown();
    await runningFirst;
    assert.equal(probe.held, true);
    const late = await runOne(20);
    assert.equal(late.by, 'follower');
    probe.withdraw();
  } finally {
    first.shutdown();
    follower.shutdown();
    await Promise.all([runningFirst, runningFollower]);
    await client.close();
    await Promise.all([firstStore!.close(), followerStore!.close(), clientStore!.close()]);
    await drop();
  }
});

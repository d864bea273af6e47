/**
 * Fault: a network pause between a worker and PostgreSQL longer than the lease (issue 5, "Faults,
 * tested with real processes").
 *
 * A 'stale' worker process reaches the database through a TCP proxy (tcp-proxy.ts) that the test
 * can pause: both directions stop, nothing is closed, nothing arrives (a partition, not a crash).
 *
 * - Activity: the stale worker claims the activity, which journals that it started (the test's cue
 *   to pause the proxy) and keeps going; its completion is sent into the pause. The pause lasts
 *   longer than the activity's start-to-close timeout (3 s): a 'direct' worker (direct connection)
 *   gets the activity redelivered (attempt 2). While attempt 2 holds the task, the proxy resumes and
 *   the stale completion reaches the database: it must be refused (the stale worker logs "no longer
 *   held", its TaskLostError). Then attempt 2 completes: the history has exactly one
 *   ActivityTaskCompleted, whose ActivityTaskStarted is the direct worker's attempt 2.
 * - Workflow task: the stale worker's workflow task stalls in the middle (workflow code blocks for
 *   2 s, commands not yet sent) while the test pauses the proxy; the pause outlasts the workflow
 *   task timeout (3 s), the task times out and is redelivered to the direct worker, which holds it
 *   while the proxy resumes: the stale completion is refused. The history has WorkflowTaskTimedOut
 *   for the first task, one outcome per scheduled task, and only the direct worker's commands.
 * - Mid-transaction: the proxy pauses right after the stale worker sent the first statement of its
 *   completion (`SELECT ... FROM executions ... FOR UPDATE`, prepared as keel_lock_execution): the
 *   server runs it and holds the run's row lock for a client it cannot hear from. That worker reads
 *   the rows it completes (`KEEL_FAULT_KNOWN_ROWS=off`): one that takes them as it wrote them last
 *   often sends its whole completion, BEGIN to COMMIT, in one write, which no pause can cut. The activity must
 *   still be redelivered, once the server ends the stuck session (idle-in-transaction timeout), and
 *   the stale completion refused.(Before the store set that timeout, 15 s by default, the expiry
 *   scanner skipped the locked run and nothing was redelivered until the partition ended.)
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, type HistoryEvent } from 'keel/client';
import { freshSchema, POSTGRES_URL } from '../helpers/postgres.ts';
import { faultEnv, waitUntil, whileAlive, type FaultEnv, exclusiveFaultRun } from './fault-env.ts';
import { count, historyProblems, recordedStart } from './histories.ts';
import { TcpProxy } from './tcp-proxy.ts';

/** Start-to-close timeout of `gatedAddOne`, and the workflow task timeout used here. */
const LEASE_MS = 3000;
/**
 * How long a worker cut off inside a transaction may keep its row locks: the server's
 * idle-in-transaction timeout the store is expected to set (15 s by default), plus slack.
 */
const STUCK_TRANSACTION_MS = 15_000 + 5_000;

const attr = (event: HistoryEvent, name: string): unknown =>
  (event.attributes as Record<string, unknown>)[name];

async function setup(taskQueue: string, workerEnv: Record<string, string> = {}) {
  const schema = freshSchema('keel_faults');
  const env = faultEnv();
  const target = new URL(POSTGRES_URL);
  const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
  const proxied = new URL(schema.url);
  proxied.port = String(proxy.port);
  const client = new Client({ connection: schema.url });
  const stale = env.spawnWorker(proxied.toString(), taskQueue, 'stale-worker', 'stale', workerEnv);
  const dispose = async () => {
    proxy.resume();
    await env.dispose();
    await proxy.close();
    await client.close();
    await schema.drop();
  };
  await stale.waitForLine('ready', 30_000).catch(async (error: unknown) => {
    await dispose();
    throw error;
  });
  return {
    schema,
    env,
    proxy,
    client,
    stale,
    startDirect: async () => {
      const direct = env.spawnWorker(schema.url, taskQueue, 'direct-worker', 'direct', workerEnv);
      await direct.waitForLine('ready', 30_000);
      return direct;
    },
    dispose,
  };
}

/** Redelivery proves the lease expired, but the pause began a little after the claim: make it outlast the lease too. */
async function outlastLease(pausedAt: number): Promise<void> {
  await delay(Math.max(0, pausedAt + LEASE_MS + 100 - Date.now()));
}

function journaled(env: FaultEnv, what: (what: string) => boolean, phase: string, role: string) {
  return () => env.journal().some((j) => what(j.what) && j.phase === phase && j.role === role);
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** Waits until the stale worker started the work that `isWork` matches (an activity, a workflow task). */
async function staleStarted(
  f: Setup,
  isWork: (what: string) => boolean,
  what: string,
): Promise<void> {
  await whileAlive(
    `the stale worker to start ${what}`,
    waitUntil(`${what} to start`, journaled(f.env, isWork, 'started', 'stale'), 20_000, 5),
    [f.stale],
    25_000,
  );
}

/** Starts the directly connected worker and waits until it got the work redelivered. */
async function redelivered(
  f: Setup,
  isWork: (what: string) => boolean,
  pausedAt: number,
  withinMs = 20_000,
) {
  const direct = await f.startDirect();
  await whileAlive(
    'the work to be redelivered',
    waitUntil(
      `the direct worker to start it within ${withinMs} ms`,
      journaled(f.env, isWork, 'started', 'direct'),
      withinMs,
      5,
    ),
    [f.stale, direct],
    withinMs + 5_000,
  );
  return { direct, redeliveredAfterMs: Date.now() - pausedAt };
}

/** Ends the pause once it outlasted the lease; the stale worker's late completion must be refused. */
async function resumeAndExpectRefusal(f: Setup, pausedAt: number) {
  await outlastLease(pausedAt);
  f.proxy.resume();
  const pauseMs = Date.now() - pausedAt;
  const refusal = await f.stale.waitForLine('no longer held', 10_000);
  return { pauseMs, refusal, refusedAfterResumeMs: Date.now() - pausedAt - pauseMs };
}

// One fault file at a time (see exclusiveFaultRun); the wait is not counted in the tests' timeouts.
let release: (() => void) | undefined;
before(async () => void (release = await exclusiveFaultRun()), { timeout: 300_000 });
after(() => release?.());

test(
  'network pause longer than an activity lease: redelivered to another worker, the stale completion is refused',
  { timeout: 90_000 },
  async (t) => {
    const taskQueue = 'pause-activity';
    const f = await setup(taskQueue);
    try {
      const isActivity = (what: string) => what !== 'workflow-task';
      const handle = await f.client.workflow.start('pausedInActivity', {
        taskQueue,
        workflowId: 'paused-in-activity',
        args: [10],
      });
      await staleStarted(f, isActivity, 'the activity');
      f.proxy.pause();
      const pausedAt = Date.now();
      const { direct, redeliveredAfterMs } = await redelivered(f, isActivity, pausedAt);
      assert.equal(
        journaled(f.env, isActivity, 'done', 'stale')(),
        true,
        'the stale attempt finished its work during the pause',
      );
      const { pauseMs, refusal, refusedAfterResumeMs } = await resumeAndExpectRefusal(f, pausedAt);
      f.env.openGate('activity');

      assert.equal(await whileAlive('the result', handle.result(), [f.stale, direct], 20_000), 11);
      const { events } = await handle.fetchHistory();
      assert.deepEqual(historyProblems(events, 10, 1), []);
      const scheduled = events.find((e) => e.eventType === 'ActivityTaskScheduled')!;
      assert.deepEqual(recordedStart(events, scheduled.eventId), {
        identity: 'direct-worker',
        attempt: 2,
      });
      assert.equal(count(events, 'ActivityTaskCompleted'), 1);
      assert.equal(
        events.some(
          (e) => e.eventType.startsWith('Activity') && attr(e, 'identity') === 'stale-worker',
        ),
        false,
        'nothing of the stale attempt was recorded',
      );
      assert.deepEqual(
        f.env
          .journal()
          .filter((j) => isActivity(j.what))
          .map((j) => `${j.role} attempt ${j.attempt} ${j.phase}`)
          .sort(),
        [
          'direct attempt 2 done',
          'direct attempt 2 started',
          'stale attempt 1 done',
          'stale attempt 1 started',
        ],
      );
      assert.equal(pauseMs > LEASE_MS, true, `the pause (${pauseMs} ms) outlasted the lease`);
      t.diagnostic(
        `activity pause figures: ${JSON.stringify({ pauseMs, redeliveredAfterMs, refusedAfterResumeMs, proxiedConnections: f.proxy.connections })}; stale worker: ${refusal}`,
      );
    } finally {
      await f.dispose();
    }
  },
);

test(
  'network pause longer than the workflow task timeout, mid-task: redelivered, the stale completion is refused',
  { timeout: 90_000 },
  async (t) => {
    const taskQueue = 'pause-workflow-task';
    // A task held under a lease: claimed in one transaction, completed in another. (A task run in
    // the transaction that claims it holds its run's row instead, as any transaction does: cut off,
    // it is released when the server ends the session, as in the mid-transaction test below.)
    const f = await setup(taskQueue, { KEEL_RUN_NOW: 'off' });
    try {
      const isTask = (what: string) => what === 'workflow-task';
      const handle = await f.client.workflow.start('pausedInWorkflowTask', {
        taskQueue,
        workflowId: 'paused-in-workflow-task',
        args: [20],
        workflowTaskTimeout: LEASE_MS,
      });
      await staleStarted(f, isTask, 'the workflow task');
      f.proxy.pause();
      const pausedAt = Date.now();
      const { direct, redeliveredAfterMs } = await redelivered(f, isTask, pausedAt);
      const { pauseMs, refusal, refusedAfterResumeMs } = await resumeAndExpectRefusal(f, pausedAt);
      f.env.openGate('workflow-task');

      assert.equal(await whileAlive('the result', handle.result(), [f.stale, direct], 20_000), 21);
      const { events } = await handle.fetchHistory();
      assert.deepEqual(historyProblems(events, 20, 1), []);
      const byType = (type: string) => events.filter((e) => e.eventType === type);
      const [firstScheduled] = byType('WorkflowTaskScheduled');
      assert.deepEqual(
        byType('WorkflowTaskTimedOut').map((e) => attr(e, 'scheduledEventId')),
        [firstScheduled!.eventId],
        'the first workflow task, and only it, timed out',
      );
      assert.equal(
        attr(byType('WorkflowTaskStarted')[0]!, 'identity'),
        'stale-worker',
        'the stale worker had started the task that timed out',
      );
      const [firstCompleted] = byType('WorkflowTaskCompleted');
      assert.equal(
        attr(firstCompleted!, 'identity'),
        'direct-worker',
        'the redelivered task is the one completed',
      );
      assert.equal(
        count(events, 'ActivityTaskScheduled'),
        1,
        "the stale task's commands were not applied",
      );
      assert.equal(
        pauseMs > LEASE_MS,
        true,
        `the pause (${pauseMs} ms) outlasted the workflow task timeout`,
      );
      t.diagnostic(
        `workflow task pause figures: ${JSON.stringify({ pauseMs, redeliveredAfterMs, refusedAfterResumeMs, workflowTaskTimedOut: count(events, 'WorkflowTaskTimedOut') })}; stale worker: ${refusal}`,
      );
    } finally {
      await f.dispose();
    }
  },
);

test(
  "network pause in the middle of the stale worker's completion transaction (run row locked): the activity is still redelivered",
  { timeout: 90_000 },
  async (t) => {
    const taskQueue = 'pause-mid-transaction';
    const f = await setup(taskQueue, { KEEL_FAULT_KNOWN_ROWS: 'off' });
    try {
      const isActivity = (what: string) => what !== 'workflow-task';
      const handle = await f.client.workflow.start('pausedInActivity', {
        taskQueue,
        workflowId: 'paused-mid-transaction',
        args: [30],
      });
      await staleStarted(f, isActivity, 'the activity');
      // The completion's first statement locks the run's row; the server runs it, the answer is held.
      await whileAlive(
        'the stale completion to lock the run',
        f.proxy.pauseAfterClientSends('keel_lock_execution'),
        [f.stale],
        10_000,
      );
      const pausedAt = Date.now();
      const { direct, redeliveredAfterMs } = await redelivered(
        f,
        isActivity,
        pausedAt,
        LEASE_MS + STUCK_TRANSACTION_MS,
      );
      const { refusal } = await resumeAndExpectRefusal(f, pausedAt);
      f.env.openGate('activity');
      assert.equal(await whileAlive('the result', handle.result(), [f.stale, direct], 20_000), 31);
      const { events } = await handle.fetchHistory();
      assert.deepEqual(historyProblems(events, 30, 1), []);
      const scheduled = events.find((e) => e.eventType === 'ActivityTaskScheduled')!;
      assert.deepEqual(recordedStart(events, scheduled.eventId), {
        identity: 'direct-worker',
        attempt: 2,
      });
      t.diagnostic(
        `mid-transaction pause figures: ${JSON.stringify({ redeliveredAfterMs })}; stale worker: ${refusal}`,
      );
    } finally {
      await f.dispose();
    }
  },
);

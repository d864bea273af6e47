/**
 * Durability under real crashes: worker and client processes are killed with SIGKILL mid-work, and
 * the run must complete with nothing lost and nothing done twice that must not be.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { Client, type HistoryEvent } from 'keel/client';
import { eventually, spawnNode, type NodeProcess } from '../helpers/processes.ts';
import { tempDbPath, uniqueQueue } from '../helpers/env.ts';

const processes: NodeProcess[] = [];
after(async () => {
  await Promise.all(processes.map((p) => p.kill()));
});

function setup() {
  const dbPath = tempDbPath();
  const journalPath = `${dbPath}.journal`;
  const taskQueue = uniqueQueue('crash');
  const client = new Client({ connection: dbPath });
  const startWorker = async (env: Record<string, string> = {}) => {
    const worker = spawnNode(import.meta.url, './worker-process.ts', [dbPath, taskQueue], {
      KEEL_JOURNAL: journalPath,
      ...env,
    });
    processes.push(worker);
    await worker.waitForLine('ready');
    return worker;
  };
  const journal = () =>
    existsSync(journalPath)
      ? readFileSync(journalPath, 'utf8')
          .split('\n')
          .filter((line) => line !== '') // the file may exist before its first line is in
          .map(
            (line) =>
              JSON.parse(line) as {
                workflowId: string;
                name: string;
                phase: string;
                attempt: number;
                pid: number;
              },
          )
      : [];
  return { dbPath, taskQueue, client, startWorker, journal };
}

const count = (events: HistoryEvent[], type: string) =>
  events.filter((e) => e.eventType === type).length;

/**
 * Runs threeSteps(10) on a worker armed to die on its third workflow task (after computing its
 * commands, before recording them), then on a second worker to the end; returns both workers and
 * the history.
 */
async function killedInThirdTask(
  {
    taskQueue,
    client,
    startWorker,
  }: Pick<ReturnType<typeof setup>, 'taskQueue' | 'client' | 'startWorker'>,
  workflowId: string,
  env: Record<string, string> = {},
) {
  const first = await startWorker({ KEEL_CRASH_AT: 'workflow-task-before-complete:3', ...env });
  const handle = await client.workflow.start('threeSteps', {
    taskQueue,
    workflowId,
    args: [10],
    workflowTaskTimeout: '1s',
  });
  const exit = await first.exited;
  assert.equal(exit.signal, 'SIGKILL');
  const second = await startWorker();
  assert.equal(await handle.result(), 13);
  const { events } = await handle.fetchHistory();
  return { first, second, events };
}

test('a worker killed during an activity: the activity runs again after its start-to-close timeout, the workflow completes once', async () => {
  const { taskQueue, client, startWorker, journal } = setup();
  const first = await startWorker();
  const handle = await client.workflow.start('hangsInTheMiddle', {
    taskQueue,
    workflowId: 'killed-in-activity',
    args: [1],
  });
  await eventually(
    'the slow activity to start',
    () => journal().find((j) => j.name === 'b' && j.phase === 'started') ?? undefined,
  );
  await first.kill();

  const second = await startWorker();
  assert.equal(await handle.result(), 4);
  const entries = journal();
  const b = entries.filter((j) => j.name === 'b');
  assert.deepEqual(
    b.map((j) => [j.phase, j.attempt, j.pid === first.child.pid ? 'first' : 'second']),
    [
      ['started', 1, 'first'],
      ['started', 2, 'second'],
      ['done', 2, 'second'],
    ],
  );
  assert.equal(
    entries.filter((j) => j.name === 'a').length,
    1,
    'step a ran once: its result was recorded before the crash',
  );
  const { events } = await handle.fetchHistory();
  assert.equal(count(events, 'ActivityTaskScheduled'), 3);
  assert.equal(count(events, 'ActivityTaskCompleted'), 3);
  assert.equal(count(events, 'WorkflowExecutionCompleted'), 1);
  const started = events.find(
    (e) => e.eventType === 'ActivityTaskStarted' && e.attributes.attempt === 2,
  );
  assert.ok(started, 'the second attempt is the one recorded');
  await second.kill();
  await client.close();
});

test('a worker killed during a workflow task: the task is delivered again, replayed, and no activity is scheduled twice', async () => {
  const { taskQueue, client, startWorker, journal } = setup();
  // Dies on its third workflow task, after computing commands and before recording them. Each task
  // runs after the transaction that claimed it, so the claim is recorded and the task times out.
  const { second, events } = await killedInThirdTask(
    { taskQueue, client, startWorker },
    'killed-in-workflow-task',
    { KEEL_RUN_NOW: 'off' },
  );
  assert.equal(count(events, 'WorkflowTaskTimedOut'), 1, 'the lost task timed out once');
  assert.equal(count(events, 'ActivityTaskScheduled'), 3, 'no activity scheduled twice');
  assert.deepEqual(
    journal().map((j) => j.name),
    ['a', 'b', 'c'],
    'each step ran once',
  );
  await second.kill();
  await client.close();
});

test('a worker killed during a workflow task run in the transaction of the activity that woke it: the result is lost with the task, the activity runs again, nothing is scheduled twice', async () => {
  const { taskQueue, client, startWorker, journal } = setup();
  // The third workflow task runs inside the transaction recording step b's result: the worker dies
  // there, before that transaction commits.
  const { first, second, events } = await killedInThirdTask(
    { taskQueue, client, startWorker },
    'killed-in-task-run-now',
  );
  assert.equal(count(events, 'WorkflowTaskTimedOut'), 0, 'no task was recorded as held');
  assert.equal(count(events, 'ActivityTaskScheduled'), 3, 'no activity scheduled twice');
  assert.equal(count(events, 'ActivityTaskCompleted'), 3, 'one recorded result per activity');
  assert.deepEqual(
    journal()
      .filter((j) => j.phase === 'done')
      .map((j) => [j.name, j.attempt, j.pid === first.child.pid ? 'first' : 'second']),
    [
      ['a', 1, 'first'],
      ['b', 1, 'first'],
      ['b', 2, 'second'],
      ['c', 1, 'second'],
    ],
    'b ran again: its first result was in the transaction that died',
  );
  await second.kill();
  await client.close();
});

test('a worker killed after an activity did its work but before recording it: the activity runs again (at least once)', async () => {
  const { taskQueue, client, startWorker, journal } = setup();
  const first = await startWorker({ KEEL_CRASH_AT: 'activity-before-complete:2' });
  const handle = await client.workflow.start('threeSteps', {
    taskQueue,
    workflowId: 'killed-before-record',
    args: [0],
  });
  await first.exited;
  const second = await startWorker();
  assert.equal(await handle.result(), 3);
  const b = journal().filter((j) => j.name === 'b');
  assert.deepEqual(
    b.map((j) => j.attempt),
    [1, 2],
    'the unrecorded attempt is retried after its timeout',
  );
  const { events } = await handle.fetchHistory();
  assert.equal(count(events, 'ActivityTaskCompleted'), 3, 'one recorded result per activity');
  await second.kill();
  await client.close();
});

test('a client killed right after start: the workflow completes and another process reads its result', async () => {
  const { dbPath, taskQueue, client, startWorker } = setup();
  const starter = spawnNode(
    import.meta.url,
    './client-process.ts',
    [dbPath, taskQueue, 'started-then-killed', 'threeSteps', '5'],
    {
      KEEL_CRASH_AT: 'client-after-start',
    },
  );
  processes.push(starter);
  const exit = await starter.exited;
  assert.equal(exit.signal, 'SIGKILL', 'the client died before returning');
  assert.doesNotMatch(starter.stdout(), /started/);
  const worker = await startWorker();
  assert.equal(await client.workflow.getHandle('started-then-killed').result(), 8);
  await worker.kill();
  await client.close();
});

test('timers survive restarts: a 2 s sleep whose worker is down for 5 s fires once when it comes back', async () => {
  const { taskQueue, client, startWorker } = setup();
  const first = await startWorker();
  const handle = await client.workflow.start('sleepsThenSteps', {
    taskQueue,
    workflowId: 'sleeps-through-outage',
    args: [2000],
  });
  await eventually('the timer to be started', async () =>
    (await handle.fetchHistory()).events.find((e) => e.eventType === 'TimerStarted'),
  );
  await first.kill();
  // The outage itself is the scenario: no worker runs for 5 s, past the timer's due time.
  await new Promise((resolve) => setTimeout(resolve, 5000));
  assert.equal(
    count((await handle.fetchHistory()).events, 'TimerFired'),
    0,
    'nothing fires while no worker runs',
  );

  const restartedAt = Date.now();
  const second = await startWorker();
  assert.equal(await handle.result(), 1);
  assert.ok(Date.now() - restartedAt < 3000, 'the overdue timer fires promptly after the restart');
  const { events } = await handle.fetchHistory();
  assert.equal(count(events, 'TimerFired'), 1);
  await second.kill();
  await client.close();
});

/**
 * Crash safety of composition: a worker process is SIGKILLed while a parent waits on its children,
 * or while it records the task that starts them; after a restart everything completes, once.
 * Worker processes: test/crash/composition-worker-process.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { Client, type HistoryEvent } from 'keel/client';
import { eventually, spawnNode, type NodeProcess } from '../helpers/processes.ts';
import { tempDbPath, uniqueQueue } from '../helpers/env.ts';
import { go } from '../crash/composition-crash-workflows.ts';

const processes: NodeProcess[] = [];
after(async () => {
  await Promise.all(processes.map((p) => p.kill()));
});

interface JournalEntry {
  workflowId: string;
  name: string;
  phase: string;
  attempt: number;
  pid: number;
}

function setup() {
  const dbPath = tempDbPath();
  const journalPath = `${dbPath}.journal`;
  const taskQueue = uniqueQueue('composition-crash');
  const client = new Client({ connection: dbPath });
  const startWorker = async (env: Record<string, string> = {}) => {
    const worker = spawnNode(
      import.meta.url,
      '../crash/composition-worker-process.ts',
      [dbPath, taskQueue],
      { KEEL_JOURNAL: journalPath, ...env },
    );
    processes.push(worker);
    await worker.waitForLine('ready');
    return worker;
  };
  const journal = (): JournalEntry[] =>
    existsSync(journalPath)
      ? readFileSync(journalPath, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as JournalEntry)
      : [];
  return { taskQueue, client, startWorker, journal };
}

const count = (events: HistoryEvent[], type: string) =>
  events.filter((e) => e.eventType === type).length;

const N = 5;
/** Child i returns (i + 1) * 10; the parent adds 1 to their sum. */
const EXPECTED = Array.from({ length: N }, (_, i) => (i + 1) * 10).reduce((a, b) => a + b, 0) + 1;

async function runsOf(client: Client, workflowId: string): Promise<number> {
  return (await client.workflow.count({ query: `WorkflowId = '${workflowId}'` })).count;
}

/** Each child ran once, in one run, with one recorded step; the parent recorded each child once. */
async function assertEverythingOnce(client: Client, parentId: string, journal: JournalEntry[]) {
  for (let i = 0; i < N; i++) {
    const childId = `${parentId}-${i}`;
    assert.equal(
      journal.filter((j) => j.name === `child-${i}`).length,
      1,
      `child ${i}'s step ran once`,
    );
    assert.equal(await runsOf(client, childId), 1, `child ${i} has one run`);
    const events = (await client.workflow.getHandle(childId).fetchHistory()).events;
    assert.equal(count(events, 'ActivityTaskScheduled'), i === 0 ? 2 : 1);
    assert.equal(count(events, 'WorkflowExecutionCompleted'), 1);
  }
  assert.equal(journal.filter((j) => j.name === 'parent-done').length, 1);
  const parent = (await client.workflow.getHandle(parentId).fetchHistory()).events;
  assert.equal(count(parent, 'StartChildWorkflowExecutionInitiated'), N);
  assert.equal(count(parent, 'ChildWorkflowExecutionStarted'), N);
  assert.equal(count(parent, 'ChildWorkflowExecutionCompleted'), N);
  assert.equal(count(parent, 'WorkflowExecutionCompleted'), 1);
  assert.equal(await runsOf(client, parentId), 1);
  return parent;
}

test('a worker killed while a parent waits on its children: after a restart every child and the parent complete, once', async () => {
  const { taskQueue, client, startWorker, journal } = setup();
  const first = await startWorker();
  const handle = await client.workflow.start('crashParent', {
    taskQueue,
    workflowId: 'killed-fan-out',
    args: [N],
  });
  // Every child recorded its step and waits; child 0 is inside an activity that hangs.
  await eventually('the children to be waiting', async () => {
    if (!journal().some((j) => j.name === 'child-0-slow')) return undefined;
    for (let i = 0; i < N; i++) {
      const child = client.workflow.getHandle(`killed-fan-out-${i}`);
      const events = await child.fetchHistory().then(
        (h) => h.events,
        () => [],
      );
      if (count(events, 'ActivityTaskCompleted') < 1) return undefined;
    }
    return true;
  });
  await first.kill();

  // Signals sent while no worker runs are kept.
  for (let i = 0; i < N; i++) await client.workflow.getHandle(`killed-fan-out-${i}`).signal(go);
  const second = await startWorker();
  assert.equal(await handle.result(), EXPECTED);

  const entries = journal();
  assert.deepEqual(
    entries
      .filter((j) => j.name === 'child-0-slow')
      .map((j) => [j.phase, j.attempt, j.pid === first.child.pid ? 'first' : 'second']),
    [
      ['started', 1, 'first'],
      ['started', 2, 'second'],
      ['done', 2, 'second'],
    ],
  );
  assert.equal(
    entries
      .filter((j) => j.name.startsWith('child-') && j.name !== 'child-0-slow')
      .every((j) => j.pid === first.child.pid),
    true,
    'the children steps recorded before the crash did not run again',
  );
  await assertEverythingOnce(client, 'killed-fan-out', entries);
  await second.kill();
  await client.close();
});

test('a worker killed before recording the task that starts the children: the task is retried and each child starts once', async () => {
  const { taskQueue, client, startWorker, journal } = setup();
  // Dies on its first workflow task (the parent's), after computing the commands, before recording them.
  const first = await startWorker({ KEEL_CRASH_AT: 'workflow-task-before-complete:1' });
  const handle = await client.workflow.start('crashParent', {
    taskQueue,
    workflowId: 'killed-before-start',
    args: [N],
    workflowTaskTimeout: '1s',
  });
  const exit = await first.exited;
  assert.equal(exit.signal, 'SIGKILL');
  for (let i = 0; i < N; i++) {
    assert.equal(await runsOf(client, `killed-before-start-${i}`), 0, 'no child started yet');
  }

  const second = await startWorker();
  await eventually('the children to be started', async () => {
    for (let i = 0; i < N; i++)
      if ((await runsOf(client, `killed-before-start-${i}`)) === 0) return;
    return true;
  });
  for (let i = 0; i < N; i++)
    await client.workflow.getHandle(`killed-before-start-${i}`).signal(go);
  assert.equal(await handle.result(), EXPECTED);
  const parent = await assertEverythingOnce(client, 'killed-before-start', journal());
  // The task ran inside the transaction that claimed it: nothing of it was recorded, so the next
  // worker claimed it at once, without waiting for a timeout.
  assert.equal(
    count(parent, 'WorkflowTaskTimedOut'),
    0,
    'the lost task was never recorded as held',
  );
  await second.kill();
  await client.close();
});

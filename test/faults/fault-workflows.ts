/**
 * Workflows of the fault tests. Short timeouts (2-3 s start-to-close) so that work lost with a
 * killed or cut-off worker is redelivered quickly.
 */
import { existsSync } from 'node:fs';
import { condition, defineSignal, proxyActivities, setHandler, workflowInfo } from 'keel/workflow';
import type * as activities from './fault-activities.ts';
import { faultDir, gatePath, journal, role } from './journal.ts';

const { addOne } = proxyActivities<typeof activities>({
  startToCloseTimeout: '2s',
  retry: { initialInterval: '100ms' },
});

const { gatedAddOne } = proxyActivities<typeof activities>({
  startToCloseTimeout: '3s',
  retry: { initialInterval: '100ms' },
});

/** W3: three activities in sequence; returns input + 3. */
export async function w3(input: number): Promise<number> {
  return addOne(await addOne(await addOne(input)));
}

/** One activity that the network-pause test cuts off mid-attempt (see `gatedAddOne`). */
export async function pausedInActivity(input: number): Promise<number> {
  return gatedAddOne(input);
}

/** The first workflow task this process runs of `pausedInWorkflowTask` stalls (see `stall`). */
let stalled = false;

/**
 * Stalls the workflow task synchronously, in the middle of it (commands not yet sent): on the stale
 * worker for 2 s, within its 3 s lease (the test pauses the network meanwhile, so the completion
 * is sent into the pause), on the direct worker until the test opens the 'workflow-task' gate (so
 * that the stale completion arrives while the redelivered task is held). It adds no command:
 * replay is unaffected.
 */
function stall(): void {
  if (stalled || (role !== 'stale' && role !== 'direct')) return;
  stalled = true;
  journal({
    workflowId: workflowInfo().workflowId,
    what: 'workflow-task',
    phase: 'started',
    attempt: 0,
  });
  const cell = new Int32Array(new SharedArrayBuffer(4));
  if (role === 'stale') {
    Atomics.wait(cell, 0, 0, 2000);
  } else {
    const gate = gatePath(faultDir(), 'workflow-task');
    for (let waited = 0; !existsSync(gate) && waited < 20_000; waited += 10) {
      Atomics.wait(cell, 0, 0, 10);
    }
  }
  journal({
    workflowId: workflowInfo().workflowId,
    what: 'workflow-task',
    phase: 'done',
    attempt: 0,
  });
}

/** A workflow whose first workflow task the network-pause test cuts off mid-way. */
export async function pausedInWorkflowTask(input: number): Promise<number> {
  stall();
  return addOne(input);
}

export const go = defineSignal('go');

/** Waits for the `go` signal (the sticky-queue test kills its worker meanwhile). */
export async function waitsForGo(): Promise<string> {
  let going = false;
  setHandler(go, () => void (going = true));
  await condition(() => going);
  return 'gone';
}

/**
 * Activities of the fault tests: each execution is journaled (see journal.ts), so that a test can
 * count how often each activity really ran, across processes, including those killed mid-way.
 */
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { Context } from 'keel/activity';
import { faultDir, gatePath, journal, role } from './journal.ts';

function journalAttempt(phase: 'started' | 'done'): void {
  const { activityId, attempt, workflowExecution } = Context.current().info;
  journal({ workflowId: workflowExecution.workflowId, what: activityId, phase, attempt });
}

/** W3's step: returns its input + 1, journaled once it ran. */
export async function addOne(n: number): Promise<number> {
  journalAttempt('done');
  return n + 1;
}

/**
 * The network-pause activity. Journals that it started (the test's cue to pause the network), then
 * keeps going: on the worker behind the proxy ('stale') it finishes 2 s later, within its 3 s
 * lease, so its completion is sent while the network is paused; on the direct worker it waits for
 * the test to open the 'activity' gate, so that the stale completion arrives while this attempt
 * holds the task.
 */
export async function gatedAddOne(n: number): Promise<number> {
  journalAttempt('started');
  if (role === 'stale') {
    await delay(2000);
  } else {
    const gate = gatePath(faultDir(), 'activity');
    for (const deadline = Date.now() + 20_000; !existsSync(gate) && Date.now() < deadline;) {
      await delay(10);
    }
  }
  journalAttempt('done');
  return n + 1;
}

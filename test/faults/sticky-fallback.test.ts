/**
 * Fault: a worker dies holding runs on its sticky queue (issue 5, "sticky routing ... with
 * fallback to any worker after a short schedule-to-start timeout").
 *
 * A worker process completes the first workflow task of a run that then waits for a signal, so the
 * run's next task is routed to that worker's sticky queue. The process is SIGKILLed (no graceful
 * hand-back), another worker starts, and the signal is sent. The task must wait on the dead
 * worker's queue for the sticky timeout, then move to the shared queue and run on the live worker:
 * no earlier (stickiness held), not much later (the timeout is a timer like any other), and without
 * a workflow task timeout in the history (the task was never started by the dead worker).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from 'keel/client';
import { freshSchema } from '../helpers/postgres.ts';
import { exclusiveFaultRun, faultEnv, waitUntil } from './fault-env.ts';

const STICKY_MS = 1_500;

let release: (() => void) | undefined;
before(async () => void (release = await exclusiveFaultRun()), { timeout: 300_000 });
after(() => release?.());

test(
  "a killed worker's sticky run moves to a live worker after the sticky timeout",
  { timeout: 60_000 },
  async (t) => {
    const schema = freshSchema('keel_faults');
    const env = faultEnv();
    const client = new Client({ connection: schema.url });
    const taskQueue = 'sticky-fallback';
    const sticky = { KEEL_FAULT_STICKY_MS: String(STICKY_MS) };
    try {
      const doomed = env.spawnWorker(schema.url, taskQueue, 'doomed', 'plain', sticky);
      await doomed.waitForLine('ready', 30_000);
      const handle = await client.workflow.start('waitsForGo', {
        taskQueue,
        workflowId: 'sticky-1',
      });
      await waitUntil(
        'the first task to complete on the doomed worker',
        async () =>
          (await handle.fetchHistory()).events.some((e) => e.eventType === 'WorkflowTaskCompleted'),
        30_000,
      );
      await doomed.kill();

      const survivor = env.spawnWorker(schema.url, taskQueue, 'survivor', 'plain', sticky);
      await survivor.waitForLine('ready', 30_000);
      const signalled = Date.now();
      await handle.signal('go');
      assert.equal(await handle.result(), 'gone');
      const tookMs = Date.now() - signalled;
      t.diagnostic(`sticky fallback figures: ${JSON.stringify({ stickyMs: STICKY_MS, tookMs })}`);
      assert.ok(tookMs >= STICKY_MS - 50, `moved after ${tookMs} ms, before the sticky timeout`);
      assert.ok(tookMs < STICKY_MS + 3_000, `moved after ${tookMs} ms`);

      const history = await handle.fetchHistory();
      const completers = history.events.flatMap((e) =>
        e.eventType === 'WorkflowTaskCompleted' ? [e.attributes.identity] : [],
      );
      assert.deepEqual(completers, ['doomed', 'survivor']);
      assert.equal(history.events.filter((e) => e.eventType === 'WorkflowTaskTimedOut').length, 0);
    } finally {
      await client.close();
      await env.dispose();
      await schema.drop();
    }
  },
);

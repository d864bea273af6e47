/**
 * A worker in its own process for the fault tests:
 * `node ... fault-worker.ts <connection> <taskQueue> <identity>`, with `KEEL_FAULT_DIR` (journal
 * and gates), `KEEL_FAULT_ROLE` and optionally `KEEL_FAULT_STICKY_MS` (the sticky queue's
 * schedule-to-start timeout), `KEEL_RUN_NOW` and `KEEL_FAULT_KNOWN_ROWS=off` (its store reads every
 * row it completes, remembering none it wrote: `rememberWrittenRows`) in the environment. Prints "ready" once polling, and every
 * warning or error the worker logs as a `[warn] ...` / `[error] ...` line on stdout (tests wait for
 * "no longer held", the refusal of a late completion).
 */
import { PostgresStore, Worker } from 'keel/worker';
import * as activities from './fault-activities.ts';
import * as workflows from './fault-workflows.ts';

const [connection, taskQueue, identity] = process.argv.slice(2);
const store =
  process.env.KEEL_FAULT_KNOWN_ROWS === 'off'
    ? PostgresStore.open(connection!, { hints: 'work', rememberWrittenRows: false })
    : undefined;
const worker = await Worker.create({
  ...(store ? { store } : { connection: connection! }),
  taskQueue: taskQueue!,
  identity: identity!,
  workflows,
  activities,
  pollIntervalMs: 200,
  // KEEL_RUN_NOW=off: every workflow task runs after the transaction that claimed it.
  runWorkflowTasksNow: process.env.KEEL_RUN_NOW !== 'off',
  ...(process.env.KEEL_FAULT_STICKY_MS
    ? { stickyQueueScheduleToStartTimeout: Number(process.env.KEEL_FAULT_STICKY_MS) }
    : {}),
  shutdownGraceTime: 100,
  logger: {
    log: (level, message) => {
      if (level === 'warn' || level === 'error') console.log(`[${level}] ${message}`);
    },
  },
});
const running = worker.run();
console.log('ready');
await running;
await store?.close();

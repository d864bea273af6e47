/**
 * A worker in its own process, for crash tests: `node ... worker-process.ts <db> <taskQueue>`.
 * Prints "ready" once polling. Tests SIGKILL it or arm a crash point with KEEL_CRASH_AT.
 */
import { Worker } from 'keel/worker';
import * as activities from './crash-activities.ts';
import * as workflows from './crash-workflows.ts';

const [dbPath, taskQueue] = process.argv.slice(2);
const worker = await Worker.create({
  connection: dbPath!,
  taskQueue: taskQueue!,
  workflows,
  activities,
  pollIntervalMs: 100,
  // KEEL_RUN_NOW=off: every workflow task runs after the transaction that claimed it.
  runWorkflowTasksNow: process.env.KEEL_RUN_NOW !== 'off',
  logger: {
    log: (level, message) =>
      level !== 'debug' && level !== 'info' && console.error(`[worker ${process.pid}] ${message}`),
  },
});
const running = worker.run();
console.log('ready');
await running;

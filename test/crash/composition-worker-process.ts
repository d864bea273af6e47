/**
 * A worker in its own process for the composition crash tests:
 * `node ... composition-worker-process.ts <db> <taskQueue>`. Prints "ready" once polling.
 */
import { Worker } from 'keel/worker';
import * as activities from './composition-crash-activities.ts';
import * as workflows from './composition-crash-workflows.ts';

const [dbPath, taskQueue] = process.argv.slice(2);
const worker = await Worker.create({
  connection: dbPath!,
  taskQueue: taskQueue!,
  workflows,
  activities,
  pollIntervalMs: 100,
  logger: {
    log: (level, message) =>
      level !== 'debug' && level !== 'info' && console.error(`[worker ${process.pid}] ${message}`),
  },
});
const running = worker.run();
console.log('ready');
await running;

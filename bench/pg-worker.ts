/** A W3 worker in its own process, for the PostgreSQL benchmark: `pg-worker.ts <connection> <taskQueue>`. */
import { Worker } from 'keel/worker';
import * as activities from './w3-activities.ts';
import * as workflows from './w3-workflows.ts';

const [connection, taskQueue] = process.argv.slice(2);
const worker = await Worker.create({
  connection: connection!,
  taskQueue: taskQueue!,
  workflows,
  activities,
  maxConcurrentWorkflowTaskExecutions: 100,
  maxConcurrentActivityTaskExecutions: 100,
  logger: { log: (level, message) => level === 'error' && console.error(message) },
});
const running = worker.run();
console.log('ready');
await running;

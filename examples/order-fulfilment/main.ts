/**
 * `npm start`: an embedded engine on ./keel.db, a worker and a client in one process. Starts a new
 * order, or resumes the one a previous run left unfinished (Ctrl-C it midway to see that).
 */
import { Client } from 'keel/client';
import { SqliteStore, Worker, type WorkflowLogger } from 'keel/worker';
import * as activities from './activities.ts';
import * as workflows from './workflows.ts';
import type { Order } from './order.ts';

const dbPath = process.env.KEEL_DB ?? './keel.db';
const taskQueue = 'orders';
const store = SqliteStore.open(dbPath);
const client = new Client({ store });

// Workflow logs (silent during replay) printed as plain lines.
const logger: WorkflowLogger = {
  log(level, message, attributes) {
    if (attributes?.workflowId) console.log(`  [workflow] ${message}`);
    else if (level === 'warn' || level === 'error') console.error(`  [worker] ${message}`);
  },
};
const worker = await Worker.create({
  store,
  taskQueue,
  workflows,
  activities,
  logger,
  shutdownGraceTime: '2s',
});

const unfinished = await store.listExecutions({
  workflowType: 'orderWorkflow',
  status: 'Running',
  pageSize: 1,
});
let handle;
if (unfinished[0]) {
  handle = client.workflow.getHandle<typeof workflows.orderWorkflow>(
    unfinished[0].workflowId,
    unfinished[0].runId,
  );
  const { events } = await handle.fetchHistory();
  const scheduled = new Map<number, string>();
  const done: string[] = [];
  for (const event of events) {
    if (event.eventType === 'ActivityTaskScheduled')
      scheduled.set(event.eventId, event.attributes.activityType);
    if (event.eventType === 'ActivityTaskCompleted')
      done.push(scheduled.get(event.attributes.scheduledEventId) ?? '?');
  }
  console.log(
    `Resuming ${handle.workflowId} where it stopped (${events.length} events in its history; done: ${done.join(', ') || 'nothing yet'}).`,
  );
} else {
  const count = (await store.listExecutions({ workflowType: 'orderWorkflow', pageSize: 1000 }))
    .length;
  const order: Order = {
    orderId: `order-${1001 + count}`,
    sku: 'sea-kayak',
    quantity: 1,
    amountCents: 89_900,
    card: '4242 •••• •••• 4242',
    address: '12 Harbour Road, Kiel',
  };
  handle = await client.workflow.start(workflows.orderWorkflow, {
    taskQueue,
    workflowId: order.orderId,
    args: [order],
  });
  console.log(
    `Started ${order.orderId} (database ${dbPath}). Press Ctrl-C midway and run again to resume it.`,
  );
}

const running = worker.run();
const outcome = await Promise.race([
  handle.result().then((result) => ({ result })),
  running.then(() => undefined),
]);
if (outcome) {
  console.log(`Order complete: ${JSON.stringify(outcome.result)}`);
  worker.shutdown();
}
await running;
if (!outcome) console.log(`Stopped. Run again to resume ${handle.workflowId}.`);
await client.close();
await store.close();

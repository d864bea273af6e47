/** Starts one workflow and exits (or dies at an armed crash point): `client-process.ts <db> <queue> <workflowId> <type> <arg>`. */
import { Client } from 'keel/client';

const [dbPath, taskQueue, workflowId, workflowType, arg] = process.argv.slice(2);
const client = new Client({ connection: dbPath! });
await client.workflow.start(workflowType!, {
  taskQueue: taskQueue!,
  workflowId: workflowId!,
  args: [Number(arg)],
});
console.log('started');
await client.close();

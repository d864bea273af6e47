/**
 * Type-level tests of the public API: checked by `npm run typecheck` (tsc), never executed. Each
 * `@ts-expect-error` must stay an error; if the API stopped catching the mistake, tsc would fail.
 */
import { Client, type WorkflowHandle } from 'keel/client';
import { proxyActivities } from 'keel/workflow';

interface Order {
  id: string;
  cents: number;
}

declare function orderWorkflow(order: Order): Promise<{ trackingNumber: string }>;
declare function noArgs(): Promise<number>;
interface Activities {
  charge(card: string, cents: number): Promise<string>;
  ship(orderId: string): string;
}

export async function clientTypes(client: Client): Promise<void> {
  const handle: WorkflowHandle<typeof orderWorkflow> = await client.workflow.start(orderWorkflow, {
    taskQueue: 'q',
    workflowId: 'o-1',
    args: [{ id: 'o-1', cents: 100 }],
  });
  const result = await handle.result();
  const tracking: string = result.trackingNumber;
  void tracking;

  // @ts-expect-error args are required when the workflow takes arguments
  await client.workflow.start(orderWorkflow, { taskQueue: 'q', workflowId: 'o-2' });
  await client.workflow.start(orderWorkflow, {
    taskQueue: 'q',
    workflowId: 'o-3',
    // @ts-expect-error args must match the workflow's parameters
    args: [{ id: 1 }],
  });
  await client.workflow.execute(orderWorkflow, {
    taskQueue: 'q',
    workflowId: 'o-4',
    // @ts-expect-error too many arguments
    args: [{ id: 'x', cents: 1 }, 2],
  });

  const n: number = await client.workflow.execute(noArgs, { taskQueue: 'q', workflowId: 'n-1' });
  void n;
  // @ts-expect-error the result type follows the workflow
  const wrong: string = await client.workflow.execute(noArgs, {
    taskQueue: 'q',
    workflowId: 'n-2',
  });
  void wrong;
}

export async function activityTypes(): Promise<void> {
  const { charge, ship } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });
  const receipt: string = await charge('4242', 100);
  // A synchronous activity is still a promise in the workflow.
  const shipped: Promise<string> = ship('o-1');
  void receipt;
  void shipped;
  // @ts-expect-error wrong argument type
  await charge('4242', '100');
  // @ts-expect-error unknown activity
  await proxyActivities<Activities>({ startToCloseTimeout: 1000 }).refund();
}

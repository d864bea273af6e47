/**
 * The order workflow: reserve stock, charge the card, ship. Each step is an activity; Keel records
 * each result in the workflow's history, so a crash or Ctrl-C between steps resumes after the last
 * completed one instead of starting over.
 */
import { log, proxyActivities } from 'keel/workflow';
import type * as activities from './activities.ts';
import type { Order, OrderResult } from './order.ts';

const { reserveStock, chargeCard, shipOrder } = proxyActivities<typeof activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', maximumAttempts: 5 },
});

export async function orderWorkflow(order: Order): Promise<OrderResult> {
  const reservation = await reserveStock(order);
  log.info(`stock reserved: ${reservation}`);
  const charge = await chargeCard(order);
  log.info(`card charged: ${charge}`);
  const trackingNumber = await shipOrder(order, reservation);
  log.info(`order shipped: ${trackingNumber}`);
  return { orderId: order.orderId, reservation, charge, trackingNumber };
}

/**
 * The side effects of an order: each activity prints what it does as it happens. The card charge
 * fails twice (a flaky payment gateway) and succeeds on its third attempt, retried by Keel.
 */
import { ApplicationFailure, Context } from 'keel/activity';
import type { Order } from './order.ts';

/** Simulated work, so that there is time to press Ctrl-C midway. Set ORDER_STEP_MS=0 in tests. */
const stepMs = Number(process.env.ORDER_STEP_MS ?? 800);

function step(message: string): void {
  const { attempt } = Context.current().info;
  console.log(`  ${message}${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
}

export async function reserveStock(order: Order): Promise<string> {
  step(`reserving ${order.quantity} × ${order.sku}`);
  await Context.current().sleep(stepMs);
  return `reservation-${order.orderId}`;
}

export async function chargeCard(order: Order): Promise<string> {
  step(`charging ${(order.amountCents / 100).toFixed(2)} EUR to card ${order.card}`);
  await Context.current().sleep(stepMs / 2);
  if (Context.current().info.attempt < 3) {
    console.log('    payment gateway timed out; Keel will retry');
    throw ApplicationFailure.retryable('payment gateway timed out', 'GatewayTimeout');
  }
  return `charge-${order.orderId}`;
}

export async function shipOrder(order: Order, reservation: string): Promise<string> {
  step(`shipping ${reservation} to ${order.address}`);
  await Context.current().sleep(stepMs);
  return `TRACK-${order.orderId.toUpperCase()}`;
}

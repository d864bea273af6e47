/**
 * A money transfer as a saga: withdraw from one account, deposit into the other. Before each step
 * the workflow registers the step's compensation; if a later step fails, or the workflow is
 * cancelled midway, the compensations run newest first, in a non-cancellable scope so that the
 * cancellation that stopped the transfer cannot stop its clean-up too. Then the error goes on: the
 * run fails (or, when cancelled, ends cancelled) with the books balanced.
 */
import { CancellationScope, log, proxyActivities } from 'keel/workflow';
import type { BankActivities } from './activities.ts';

export interface Transfer {
  id: string;
  from: string;
  to: string;
  cents: number;
}

const { withdraw, reverseDeposit, refundWithdrawal } = proxyActivities<BankActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '100ms', maximumAttempts: 3 },
});

// A deposit may be slow. Heartbeats let the workflow cancel it, and WAIT_CANCELLATION_COMPLETED makes
// the workflow wait until the deposit has stopped before compensating, so that nothing is deposited
// after the deposit was reversed.
const { deposit } = proxyActivities<BankActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1s',
  cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  retry: { initialInterval: '100ms', maximumAttempts: 3 },
});

export async function transferMoney(transfer: Transfer): Promise<string> {
  const compensations: { name: string; run: () => Promise<void> }[] = [];
  try {
    // A step that failed or was cancelled may still have taken effect (a timeout after the bank
    // applied it), so each compensation is registered before its step; it undoes only what was done.
    compensations.unshift({ name: 'refundWithdrawal', run: () => refundWithdrawal(transfer) });
    await withdraw(transfer);
    compensations.unshift({ name: 'reverseDeposit', run: () => reverseDeposit(transfer) });
    await deposit(transfer);
    return `transferred ${transfer.cents} cents from ${transfer.from} to ${transfer.to}`;
  } catch (error) {
    log.warn(`transfer ${transfer.id} stopped; compensating`, {
      compensations: compensations.map((c) => c.name),
    });
    await CancellationScope.nonCancellable(async () => {
      for (const compensation of compensations) await compensation.run();
    });
    throw error;
  }
}

/**
 * The steps of a transfer and their compensations, bound to a bank. A worker registers
 * `createActivities(bank)`; each activity is idempotent by the transfer id.
 */
import { ApplicationFailure, Context } from 'keel/activity';
import type { Bank } from './bank.ts';
import type { Transfer } from './workflows.ts';

export function createActivities(bank: Bank) {
  return {
    async withdraw(transfer: Transfer): Promise<void> {
      const { from: account, cents, id } = transfer;
      bank.notify('withdraw');
      if (bank.balance(account) < cents) {
        bank.record({ operation: 'withdraw', account, cents, outcome: 'failed' });
        throw ApplicationFailure.nonRetryable(
          `insufficient funds in ${account}`,
          'InsufficientFunds',
        );
      }
      bank.post(`${id}:withdraw`, account, -cents);
      bank.record({ operation: 'withdraw', account, cents, outcome: 'applied' });
    },

    async deposit(transfer: Transfer): Promise<void> {
      const { to: account, cents, id } = transfer;
      bank.notify('deposit');
      const context = Context.current();
      // A slow receiving bank: heartbeats tell Keel the deposit is alive, and tell the deposit when
      // its workflow cancels it (Context.sleep then rejects with a CancelledFailure).
      const until = Date.now() + bank.depositLatencyMs;
      try {
        while (Date.now() < until) {
          context.heartbeat();
          await context.sleep(Math.min(25, until - Date.now()));
        }
      } catch (error) {
        bank.record({ operation: 'deposit', account, cents, outcome: 'cancelled' });
        throw error;
      }
      if (bank.closedAccounts.has(account)) {
        bank.record({ operation: 'deposit', account, cents, outcome: 'failed' });
        throw ApplicationFailure.nonRetryable(`account ${account} is closed`, 'AccountClosed');
      }
      bank.post(`${id}:deposit`, account, cents);
      bank.record({ operation: 'deposit', account, cents, outcome: 'applied' });
    },

    /** Takes back a deposit if it was made (it may have been, even if the call failed). */
    async reverseDeposit(transfer: Transfer): Promise<void> {
      const { to: account, cents, id } = transfer;
      bank.notify('reverseDeposit');
      const applied = bank.reverse(`${id}:deposit`, `${id}:reverseDeposit`);
      bank.record({
        operation: 'reverseDeposit',
        account,
        cents,
        outcome: applied ? 'applied' : 'noop',
      });
    },

    /** Gives the withdrawn money back, if it was withdrawn. */
    async refundWithdrawal(transfer: Transfer): Promise<void> {
      const { from: account, cents, id } = transfer;
      bank.notify('refundWithdrawal');
      const applied = bank.reverse(`${id}:withdraw`, `${id}:refundWithdrawal`);
      bank.record({
        operation: 'refundWithdrawal',
        account,
        cents,
        outcome: applied ? 'applied' : 'noop',
      });
    },
  };
}

export type BankActivities = ReturnType<typeof createActivities>;

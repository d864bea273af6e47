/**
 * What the expense workflow does to the outside world: mails, reimbursement, escalation. A worker
 * registers `createActivities(outbox)`; every action is appended to the outbox, which stands in for
 * the mail server and the payroll system.
 */
import type { Expense } from './workflows.ts';

export interface OutboxEntry {
  action: 'askApprover' | 'reimburse' | 'escalate' | 'notifyRejection';
  expenseId: string;
  to: string;
  cents: number;
}

export function createActivities(outbox: OutboxEntry[]) {
  return {
    async askApprover(expense: Expense): Promise<void> {
      outbox.push({
        action: 'askApprover',
        expenseId: expense.id,
        to: expense.approver,
        cents: expense.cents,
      });
    },
    async reimburse(expense: Expense, cents: number): Promise<string> {
      outbox.push({ action: 'reimburse', expenseId: expense.id, to: expense.employee, cents });
      return `payout-${expense.id}`;
    },
    async notifyRejection(expense: Expense, reason: string): Promise<void> {
      outbox.push({
        action: 'notifyRejection',
        expenseId: expense.id,
        to: `${expense.employee} (${reason})`,
        cents: expense.cents,
      });
    },
    async escalate(expense: Expense, cents: number): Promise<void> {
      outbox.push({ action: 'escalate', expenseId: expense.id, to: expense.escalateTo, cents });
    },
  };
}

export type ExpenseActivities = ReturnType<typeof createActivities>;

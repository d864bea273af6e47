/**
 * An expense report waiting for a human: the approver approves or rejects it by signal; if neither
 * happens within 3 days, it is escalated. While it waits, a query tells anyone its state, and an
 * update lets the employee correct the amount (a validator refuses negative amounts, and amounts on
 * a report already decided; a refused update leaves no trace in the history).
 */
import {
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
} from 'keel/workflow';
import type { ExpenseActivities } from './activities.ts';

export interface Expense {
  id: string;
  employee: string;
  description: string;
  cents: number;
  approver: string;
  escalateTo: string;
}

export type ExpenseStatus = 'pending' | 'approved' | 'rejected' | 'escalated';

export interface ExpenseState {
  status: ExpenseStatus;
  cents: number;
  /** Whether the approver was asked (the first step). */
  approverAsked: boolean;
  decidedBy?: string;
  reason?: string;
  /** Each amount the report had, oldest first. */
  amendments: number[];
}

export const approve = defineSignal<[approver: string]>('approve');
export const reject = defineSignal<[approver: string, reason: string]>('reject');
export const expenseState = defineQuery<ExpenseState>('expenseState');
/** Sets the amount in cents; returns the amount now on the report. */
export const changeAmount = defineUpdate<number, [cents: number]>('changeAmount');

/** How long the approver has before the report is escalated. */
export const APPROVAL_TIMEOUT = '3 days';

const { askApprover, reimburse, notifyRejection, escalate } = proxyActivities<ExpenseActivities>({
  startToCloseTimeout: '1 minute',
});

export async function expenseApproval(expense: Expense): Promise<ExpenseState> {
  const state: ExpenseState = {
    status: 'pending',
    cents: expense.cents,
    approverAsked: false,
    amendments: [],
  };

  setHandler(expenseState, () => state);
  setHandler(approve, (approver) => {
    if (state.status !== 'pending') return; // the first decision wins
    state.status = 'approved';
    state.decidedBy = approver;
  });
  setHandler(reject, (approver, reason) => {
    if (state.status !== 'pending') return;
    state.status = 'rejected';
    state.decidedBy = approver;
    state.reason = reason;
  });
  setHandler(
    changeAmount,
    (cents) => {
      state.amendments.push(state.cents);
      state.cents = cents;
      return state.cents;
    },
    {
      validator: (cents) => {
        if (!Number.isSafeInteger(cents) || cents < 0)
          throw new RangeError(
            `amount must be a whole, non-negative number of cents, not ${cents}`,
          );
        if (state.status !== 'pending')
          throw new Error(`the expense is ${state.status}; its amount can no longer change`);
      },
    },
  );

  await askApprover(expense);
  state.approverAsked = true;

  const decided = await condition(() => state.status !== 'pending', APPROVAL_TIMEOUT);
  if (!decided) {
    state.status = 'escalated';
    await escalate(expense, state.cents);
  } else if (state.status === 'approved') {
    await reimburse(expense, state.cents);
  } else {
    await notifyRejection(expense, state.reason ?? 'no reason given');
  }
  return state;
}

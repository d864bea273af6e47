/**
 * A toy bank kept in memory, standing in for the two banks' APIs. Every operation carries an
 * idempotency key (the transfer id and the step), so a retried activity never moves money twice and
 * a compensation undoes exactly what was applied, or nothing. Each call is written to `calls`, in
 * order, for whoever wants to see what the saga did (the example's test does).
 */
import { EventEmitter, once } from 'node:events';

export type Operation = 'withdraw' | 'deposit' | 'reverseDeposit' | 'refundWithdrawal';

export interface Call {
  operation: Operation;
  account: string;
  cents: number;
  /** applied: money moved; noop: nothing to undo; failed / cancelled: the call threw. */
  outcome: 'applied' | 'noop' | 'failed' | 'cancelled';
}

export class Bank {
  /** Balances in cents, by account. */
  readonly balances = new Map<string, number>();
  /** Accounts that refuse deposits. */
  readonly closedAccounts = new Set<string>();
  /** How long a deposit takes: the receiving bank is slow when this is large. */
  depositLatencyMs = 0;
  readonly calls: Call[] = [];
  /** Postings by idempotency key: the account and the signed amount that was applied. */
  private readonly postings = new Map<string, { account: string; cents: number }>();
  private readonly events = new EventEmitter();

  constructor(balances: Record<string, number> = {}) {
    for (const [account, cents] of Object.entries(balances)) this.balances.set(account, cents);
  }

  balance(account: string): number {
    return this.balances.get(account) ?? 0;
  }

  /** Resolves when `operation` is next called (for a demo, or a test, to act midway). */
  async called(operation: Operation): Promise<void> {
    await once(this.events, operation);
  }

  /** Announces a call before it does anything. */
  notify(operation: Operation): void {
    this.events.emit(operation);
  }

  record(call: Call): void {
    this.calls.push(call);
  }

  /** Moves `cents` (negative: out of the account) once per `key`; returns whether it moved now. */
  post(key: string, account: string, cents: number): boolean {
    if (this.postings.has(key)) return false;
    if (!this.balances.has(account)) throw new Error(`no account ${account}`);
    this.balances.set(account, this.balance(account) + cents);
    this.postings.set(key, { account, cents });
    return true;
  }

  /** Undoes the posting made under `key`, if there was one and it is not undone yet. */
  reverse(key: string, reversalKey: string): boolean {
    const posting = this.postings.get(key);
    if (!posting || this.postings.has(reversalKey)) return false;
    return this.post(reversalKey, posting.account, -posting.cents);
  }
}

/**
 * The statements of one transaction, pipelined: each is written to the connection at once, without
 * waiting for the answers to the ones before it (the pool's clients run in pg's pipeline mode), so
 * that statements nobody waits for cost no round trip of their own. BEGIN travels with the first
 * read, a unit's writes with the next unit's first read, and the last writes with COMMIT.
 *
 * The server answers in order. Once a statement fails, the ones behind it fail too (the transaction
 * is aborted): every failure is reported as the first one, its cause.
 */
import type pg from 'pg';
import type { Writable } from 'node:stream';

export type Statement = string | { name?: string; text: string; values?: unknown[] };

export class StatementPipeline {
  /** The first failure, in the order the statements were sent. */
  private failure: { error: unknown } | undefined;
  /** Settles once every statement sent so far has been answered. */
  private lastAnswer: Promise<void> = Promise.resolve();

  /** The connection's socket, while statements sent in this tick are held back (see `send`). */
  private corked: Writable | undefined;

  constructor(private readonly client: pg.ClientBase) {}

  /**
   * Sends `statement` now and resolves to its rows. A caller that does not wait for it need not
   * handle its failure: `drain()` reports it.
   */
  send<R extends pg.QueryResultRow>(statement: Statement): Promise<R[]> {
    this.holdUntilNextTick();
    const answer = new Promise<R[]>((resolve, reject) => {
      // Callbacks run in the order the answers arrive, which is the order of sending: the first
      // failure is recorded before any later statement's callback sees its own.
      this.client.query<R>(statement as pg.QueryConfig, (error, result) => {
        if (error) {
          this.failure ??= { error };
          reject(this.failure.error);
        } else resolve(result.rows);
      });
    });
    this.lastAnswer = answer.then(
      () => undefined,
      () => undefined,
    );
    return answer;
  }

  /**
   * Statements sent in the same tick leave in one write: pg writes each statement as it is sent, and
   * a write to a socket is a system call that costs more than the statement's bytes (a tenth of a
   * worker's CPU on W3 went to them). Released on the next tick, before any I/O is waited for.
   */
  private holdUntilNextTick(): void {
    if (this.corked) return;
    const stream = (this.client as { connection?: { stream?: Writable } }).connection?.stream;
    if (!stream?.cork) return;
    stream.cork();
    this.corked = stream;
    process.nextTick(() => {
      this.corked = undefined;
      stream.uncork();
    });
  }

  /** Waits for every answer; throws the first failure, if any. */
  async drain(): Promise<void> {
    await this.lastAnswer;
    if (this.failure) throw this.failure.error;
  }
}

/**
 * First responders: of the processes polling a task queue for one kind of task, the one holding a
 * session-level advisory lock on its LISTEN connection answers the queue's ready hints at once; the
 * others, when idle, answer later (see `Worker`). Without it, every hint woke every worker process
 * and each ran a claim, one of which found the task: with 4 worker processes on 2 cores, W3 one at
 * a time cost the workers about 9 ms of CPU per workflow where one process alone spent 4. Most of
 * the rest is spreading itself: runs given to the four by run id, each woken alone, still cost them
 * about 7 ms (colder caches and code in each). See docs/design.md.
 *
 * The lock lives and dies with the LISTEN session: a process that dies or loses its connection gives
 * up its seats with the hints it no longer hears, and another candidate takes them at its next try.
 */
import type pg from 'pg';
import type { FirstResponderSeat, PolledTaskKind } from '../store.ts';

/** How often a candidate tries again for a seat another process holds. */
export const SEAT_RETRY_MS = 1000;

interface Seat {
  /** The advisory lock's name (hashed to its key by the server). */
  readonly lock: string;
  /** This process's candidates (workers) for it. */
  candidates: number;
  held: boolean;
}

export class FirstResponderSeats {
  private readonly seats = new Map<string, Seat>();
  /** The LISTEN connection of the moment: the session the locks belong to. */
  private session?: pg.Client;
  private trying = false;
  /** A candidate came while trying: try again at once. */
  private again = false;
  private retry?: NodeJS.Timeout;

  constructor(private readonly schema: string) {}

  /** A candidacy for the seat of `taskQueue`'s `kind` tasks in this schema. */
  candidate(taskQueue: string, kind: PolledTaskKind): FirstResponderSeat {
    const lock = seatLockName(this.schema, taskQueue, kind);
    let seat = this.seats.get(lock);
    if (!seat) this.seats.set(lock, (seat = { lock, candidates: 0, held: false }));
    seat.candidates++;
    void this.tryForSeats();
    let withdrawn = false;
    const owner = seat;
    return {
      get held() {
        return !withdrawn && owner.held;
      },
      withdraw: () => {
        if (withdrawn) return;
        withdrawn = true;
        if (--owner.candidates > 0) return;
        this.seats.delete(lock);
        if (owner.held) {
          owner.held = false;
          this.session?.query(UNLOCK, [lock]).catch(() => undefined);
        }
      },
    };
  }

  /** The LISTEN connection is up: try for the seats on it. */
  attach(session: pg.Client): void {
    this.session = session;
    void this.tryForSeats();
  }

  /** The LISTEN connection ended, and its locks with it. */
  detach(session: pg.Client): void {
    if (this.session !== session) return;
    this.session = undefined;
    for (const seat of this.seats.values()) seat.held = false;
    this.cancelRetry();
  }

  close(): void {
    this.cancelRetry();
    this.session = undefined;
  }

  /** Tries for every seat this process wants and does not hold, in one statement; again later for those another holds. */
  private async tryForSeats(): Promise<void> {
    const session = this.session;
    if (!session) return;
    if (this.trying) {
      this.again = true;
      return;
    }
    const wanted = [...this.seats.values()].filter((seat) => !seat.held).map((seat) => seat.lock);
    if (wanted.length === 0) return;
    this.trying = true;
    this.cancelRetry();
    try {
      const { rows } = await session.query<{ lock: string; taken: boolean }>(TRY_LOCKS, [wanted]);
      for (const { lock, taken } of rows) {
        if (!taken) continue;
        const seat = this.seats.get(lock);
        // Withdrawn (or the session replaced) while asking: give it back.
        if (seat && session === this.session) seat.held = true;
        else session.query(UNLOCK, [lock]).catch(() => undefined);
      }
    } catch {
      // The connection failed: the LISTEN loop reconnects and attaches again.
    } finally {
      this.trying = false;
    }
    if (session !== this.session) return;
    if (this.again) {
      this.again = false;
      return this.tryForSeats();
    }
    if ([...this.seats.values()].some((seat) => !seat.held)) {
      this.retry = setTimeout(() => void this.tryForSeats(), SEAT_RETRY_MS);
      this.retry.unref();
    }
  }

  private cancelRetry(): void {
    clearTimeout(this.retry);
    this.retry = undefined;
  }
}

/** The name of the advisory lock that is the seat (its key is the name's 64-bit hash). */
export function seatLockName(schema: string, taskQueue: string, kind: PolledTaskKind) {
  return `keel first responder\n${schema}\n${kind}\n${taskQueue}`;
}

const TRY_LOCKS = `SELECT lock, pg_try_advisory_lock(hashtextextended(lock, 0)) AS taken
  FROM unnest($1::text[]) AS lock`;
const UNLOCK = 'SELECT pg_advisory_unlock(hashtextextended($1, 0))';

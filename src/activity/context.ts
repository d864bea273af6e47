/**
 * What a running activity knows and can do: its info, heartbeats, and cancellation.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as realDelay } from 'node:timers/promises';
import { toMs, type Duration } from '../common/duration.ts';
import { IllegalStateError } from '../common/errors.ts';
import { CancelledFailure } from '../common/failure.ts';
import { maybeActivator } from '../runtime/context.ts';

/** Why an activity's cancellation signal fired. */
export type ActivityCancellationReason =
  'CANCELLED' | 'TIMED_OUT' | 'NOT_FOUND' | 'WORKER_SHUTDOWN';

export interface ActivityInfo {
  activityId: string;
  activityType: string;
  /** 1 for the first attempt. */
  attempt: number;
  workflowExecution: { workflowId: string; runId: string };
  workflowType: string;
  taskQueue: string;
  /** Details of the last heartbeat of a previous attempt: resume from there. */
  heartbeatDetails: unknown;
  /** When the activity was first scheduled (epoch ms). */
  scheduledTimestampMs: number;
  /** When this attempt started (epoch ms). */
  startedTimestampMs: number;
  startToCloseTimeoutMs: number;
  scheduleToCloseTimeoutMs?: number;
  heartbeatTimeoutMs?: number;
}

const activityStorage = new AsyncLocalStorage<Context>();

/**
 * The context of the running activity attempt.
 *
 * @example
 * export async function importRows(file: string): Promise<number> {
 *   const ctx = Context.current();
 *   let row = (ctx.info.heartbeatDetails as number | undefined) ?? 0; // resume after a retry
 *   for (; row < total; row++) {
 *     await insert(row);
 *     ctx.heartbeat(row); // also how the activity learns it was cancelled
 *   }
 *   return row;
 * }
 */
export class Context {
  readonly #controller = new AbortController();
  readonly #cancelled: Promise<never>;
  #reason?: ActivityCancellationReason;

  /** @internal created by the worker */
  constructor(
    readonly info: ActivityInfo,
    private readonly onHeartbeat: (details: unknown) => void,
  ) {
    this.#cancelled = new Promise<never>((_, reject) => {
      this.#controller.signal.addEventListener(
        'abort',
        () => reject(this.#controller.signal.reason),
        { once: true },
      );
    });
    this.#cancelled.catch(() => undefined); // unobserved rejection is fine: most activities never await it
  }

  /** The context of the activity this code runs in; throws outside an activity. */
  static current(): Context {
    const context = activityStorage.getStore();
    if (!context) {
      if (maybeActivator()) {
        throw new IllegalStateError(
          'An activity function was called directly from workflow code. Call activities through proxyActivities() so that they run (and are retried) as activities, with their result recorded in the history.',
        );
      }
      throw new IllegalStateError(
        'Context.current() can only be called from code an activity runs.',
      );
    }
    return context;
  }

  /**
   * Records progress; `details` are kept and given to the next attempt as `info.heartbeatDetails`.
   * Required at least every `heartbeatTimeout` when one is set. Cheap: sends are throttled.
   */
  heartbeat(details?: unknown): void {
    this.onHeartbeat(details);
  }

  /** Aborts when the activity is cancelled, times out, its workflow closed, or the worker shuts down. */
  get cancellationSignal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Rejects with a `CancelledFailure` at the same moment as `cancellationSignal` aborts. */
  get cancelled(): Promise<never> {
    return this.#cancelled;
  }

  /** Why the activity was cancelled, once it was. */
  get cancellationReason(): ActivityCancellationReason | undefined {
    return this.#reason;
  }

  /** Sleeps `duration`, or rejects with `CancelledFailure` as soon as the activity is cancelled. */
  async sleep(duration: Duration): Promise<void> {
    const ms = toMs(duration, 'Context.sleep() duration');
    try {
      await realDelay(ms, undefined, { signal: this.#controller.signal });
    } catch (error) {
      if (this.#controller.signal.aborted) throw this.#controller.signal.reason;
      throw error;
    }
  }

  /** @internal */
  cancel(reason: ActivityCancellationReason): void {
    if (this.#controller.signal.aborted) return;
    this.#reason = reason;
    this.#controller.abort(new CancelledFailure(reason));
  }

  /** @internal runs `fn` with this context as the current one */
  run<T>(fn: () => T): T {
    return activityStorage.run(this, fn);
  }
}

/** Shorthand for `Context.current().heartbeat(details)`. */
export function heartbeat(details?: unknown): void {
  Context.current().heartbeat(details);
}

/** Shorthand for `Context.current().info`. */
export function activityInfo(): ActivityInfo {
  return Context.current().info;
}

/** Shorthand for `Context.current().sleep(duration)`. */
export function sleep(duration: Duration): Promise<void> {
  return Context.current().sleep(duration);
}

/** Shorthand for `Context.current().cancellationSignal`. */
export function cancellationSignal(): AbortSignal {
  return Context.current().cancellationSignal;
}

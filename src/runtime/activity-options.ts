/**
 * Activity options as workflow code passes them to `proxyActivities`, and their checked, compiled
 * form. Rules are Temporal's: a start-to-close or schedule-to-close timeout is required, the others
 * are optional, and the attempt timeouts never exceed schedule-to-close.
 */
import { optionalMs, type Duration } from '../common/duration.ts';
import {
  compileRetryPolicy,
  type CompiledRetryPolicy,
  type RetryPolicy,
} from '../common/retry-policy.ts';

/** What the workflow does when it cancels a running activity. */
export type ActivityCancellationType = 'TRY_CANCEL' | 'WAIT_CANCELLATION_COMPLETED' | 'ABANDON';

export interface ActivityOptions {
  /** Task queue of the workers that run the activity. @defaultValue the workflow's task queue */
  taskQueue?: string;
  /** Bound on one attempt, from its start to its result. Required unless `scheduleToCloseTimeout` is set. */
  startToCloseTimeout?: Duration;
  /** Bound on the whole activity, all retries included. */
  scheduleToCloseTimeout?: Duration;
  /** How long an attempt may wait for a worker to pick it up; not retried when it fires. */
  scheduleToStartTimeout?: Duration;
  /** An attempt that does not heartbeat within this time is timed out (and retried). */
  heartbeatTimeout?: Duration;
  /** @defaultValue Temporal's: 1 s initial interval, coefficient 2, at most 100 s, unlimited attempts */
  retry?: RetryPolicy;
  /** @defaultValue `'TRY_CANCEL'`: request cancellation and reject the call at once */
  cancellationType?: ActivityCancellationType;
  /** Fixes the activity id; by default each call gets the next sequence number. */
  activityId?: string;
}

export interface CompiledActivityOptions {
  taskQueue?: string;
  startToCloseTimeout: number;
  scheduleToCloseTimeout?: number;
  scheduleToStartTimeout?: number;
  heartbeatTimeout?: number;
  retry: CompiledRetryPolicy;
  cancellationType: ActivityCancellationType;
  activityId?: string;
}

const CANCELLATION_TYPES = ['TRY_CANCEL', 'WAIT_CANCELLATION_COMPLETED', 'ABANDON'];

/** Checks and normalises activity options; throws a `TypeError` that says what is wrong and how to fix it. */
export function compileActivityOptions(options: ActivityOptions): CompiledActivityOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(
      `Activity options must be an object such as { startToCloseTimeout: '1 minute' }.`,
    );
  }
  const scheduleToClose =
    optionalMs(options.scheduleToCloseTimeout, 'scheduleToCloseTimeout') || undefined;
  let startToClose = optionalMs(options.startToCloseTimeout, 'startToCloseTimeout') || undefined;
  if (startToClose === undefined && scheduleToClose === undefined) {
    throw new TypeError(
      `Activity options need startToCloseTimeout or scheduleToCloseTimeout, e.g. proxyActivities({ startToCloseTimeout: '1 minute' }).`,
    );
  }
  startToClose = Math.min(startToClose ?? Infinity, scheduleToClose ?? Infinity);
  let scheduleToStart =
    optionalMs(options.scheduleToStartTimeout, 'scheduleToStartTimeout') || undefined;
  if (scheduleToStart !== undefined && scheduleToClose !== undefined)
    scheduleToStart = Math.min(scheduleToStart, scheduleToClose);
  let heartbeat = optionalMs(options.heartbeatTimeout, 'heartbeatTimeout') || undefined;
  if (heartbeat !== undefined) heartbeat = Math.min(heartbeat, startToClose);
  const cancellationType = options.cancellationType ?? 'TRY_CANCEL';
  if (!CANCELLATION_TYPES.includes(cancellationType)) {
    throw new TypeError(
      `Invalid cancellationType '${String(cancellationType)}'. Use one of ${CANCELLATION_TYPES.join(', ')}.`,
    );
  }
  if (
    options.taskQueue !== undefined &&
    (typeof options.taskQueue !== 'string' || options.taskQueue === '')
  ) {
    throw new TypeError('Invalid taskQueue: expected a non-empty string.');
  }
  return {
    ...(options.taskQueue !== undefined ? { taskQueue: options.taskQueue } : {}),
    startToCloseTimeout: startToClose,
    ...(scheduleToClose !== undefined ? { scheduleToCloseTimeout: scheduleToClose } : {}),
    ...(scheduleToStart !== undefined ? { scheduleToStartTimeout: scheduleToStart } : {}),
    ...(heartbeat !== undefined ? { heartbeatTimeout: heartbeat } : {}),
    retry: compileRetryPolicy(options.retry),
    cancellationType,
    ...(options.activityId !== undefined ? { activityId: options.activityId } : {}),
  };
}

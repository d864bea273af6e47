/**
 * Keel's failure hierarchy, the same as Temporal's TypeScript SDK: every failure that crosses a
 * boundary (activity → workflow → client, and through the database) is a `KeelFailure`, rebuilt on
 * the other side with its type, message, stack, details and cause chain.
 *
 * The hierarchy is closed: extend `ApplicationFailure` by giving it a `type`, not by subclassing.
 */

const brand = Symbol.for('keel.failure');

/** Why an activity or workflow stopped being retried. Names as in Temporal. */
export const RetryState = {
  IN_PROGRESS: 'IN_PROGRESS',
  NON_RETRYABLE_FAILURE: 'NON_RETRYABLE_FAILURE',
  TIMEOUT: 'TIMEOUT',
  MAXIMUM_ATTEMPTS_REACHED: 'MAXIMUM_ATTEMPTS_REACHED',
  RETRY_POLICY_NOT_SET: 'RETRY_POLICY_NOT_SET',
  CANCEL_REQUESTED: 'CANCEL_REQUESTED',
} as const;
export type RetryState = (typeof RetryState)[keyof typeof RetryState];

/** Which of an activity's (or workflow's) timeouts fired. */
export const TimeoutType = {
  START_TO_CLOSE: 'START_TO_CLOSE',
  SCHEDULE_TO_START: 'SCHEDULE_TO_START',
  SCHEDULE_TO_CLOSE: 'SCHEDULE_TO_CLOSE',
  HEARTBEAT: 'HEARTBEAT',
} as const;
export type TimeoutType = (typeof TimeoutType)[keyof typeof TimeoutType];

/** Base class of every failure Keel carries across boundaries. Not meant to be extended by users. */
export abstract class KeelFailure extends Error {
  /** Set when the failure was rebuilt from its serialised form (e.g. read back from the history). */
  public encodedStack?: string;

  constructor(message: string | undefined, cause?: Error) {
    super(message ?? '', cause === undefined ? undefined : { cause });
    Object.defineProperty(this, brand, { value: true });
  }

  // Works across copies of this module (e.g. one loaded from `dist` and one from `src`).
  static override [Symbol.hasInstance](this: unknown, value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    if (this === KeelFailure) return (value as Record<symbol, unknown>)[brand] === true;
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }
}

/** Options of {@link ApplicationFailure.create}. */
export interface ApplicationFailureOptions {
  message?: string;
  /** A name for the kind of error, matched against `RetryPolicy.nonRetryableErrorTypes`. */
  type?: string;
  /** When true the activity (or workflow) is not retried, whatever its retry policy says. */
  nonRetryable?: boolean;
  /** Extra JSON-serialisable data for whoever handles the failure. */
  details?: unknown[];
  /** Overrides the retry policy's next backoff for this failure (milliseconds). */
  nextRetryDelay?: number;
  cause?: Error;
}

/**
 * The failure a user's code throws on purpose. Thrown from an activity it fails the attempt (retried
 * unless `nonRetryable` or its `type` is listed in `nonRetryableErrorTypes`); thrown from a
 * workflow it fails the workflow run. Any other `Error` thrown in an activity is converted to an
 * `ApplicationFailure` whose `type` is the error's `name`.
 *
 * @example
 * throw ApplicationFailure.nonRetryable('card declined', 'CardDeclined', { last4: '4242' });
 */
export class ApplicationFailure extends KeelFailure {
  override name = 'ApplicationFailure';

  constructor(
    message?: string,
    public readonly type: string = 'Error',
    public readonly nonRetryable: boolean = false,
    public readonly details: unknown[] = [],
    cause?: Error,
    public readonly nextRetryDelay?: number,
  ) {
    super(message, cause);
  }

  static create(options: ApplicationFailureOptions): ApplicationFailure {
    return new ApplicationFailure(
      options.message,
      options.type,
      options.nonRetryable ?? false,
      options.details ?? [],
      options.cause,
      options.nextRetryDelay,
    );
  }

  /** A failure that the retry policy may retry. */
  static retryable(message: string, type = 'Error', ...details: unknown[]): ApplicationFailure {
    return new ApplicationFailure(message, type, false, details);
  }

  /** A failure that is never retried. */
  static nonRetryable(message: string, type = 'Error', ...details: unknown[]): ApplicationFailure {
    return new ApplicationFailure(message, type, true, details);
  }

  /** Wraps any thrown value, keeping an `ApplicationFailure` as it is. */
  static fromError(error: unknown): ApplicationFailure {
    if (error instanceof ApplicationFailure) return error;
    if (error instanceof Error) {
      const failure = new ApplicationFailure(
        error.message,
        error.name,
        false,
        [],
        asError(error.cause),
      );
      failure.stack = error.stack;
      return failure;
    }
    return new ApplicationFailure(String(error), 'Error');
  }
}

/** An activity ended in failure: its `cause` says why (an `ApplicationFailure`, a `TimeoutFailure`, a `CancelledFailure`). */
export class ActivityFailure extends KeelFailure {
  override name = 'ActivityFailure';

  constructor(
    message: string | undefined,
    public readonly activityType: string,
    public readonly activityId: string,
    public readonly retryState: RetryState,
    public readonly identity?: string,
    cause?: Error,
  ) {
    super(message, cause);
  }
}

/** A timeout fired; `timeoutType` says which. */
export class TimeoutFailure extends KeelFailure {
  override name = 'TimeoutFailure';

  constructor(
    message: string | undefined,
    public readonly lastHeartbeatDetails: unknown,
    public readonly timeoutType: TimeoutType,
  ) {
    super(message);
  }
}

/** Cancellation was requested and honoured. Raised in workflows and activities that are cancelled. */
export class CancelledFailure extends KeelFailure {
  override name = 'CancelledFailure';

  constructor(
    message?: string,
    public readonly details: unknown[] = [],
    cause?: Error,
  ) {
    super(message, cause);
  }
}

/** The workflow was terminated (`handle.terminate()`); no code of it ran afterwards. */
export class TerminatedFailure extends KeelFailure {
  override name = 'TerminatedFailure';

  constructor(message?: string, cause?: Error) {
    super(message, cause);
  }
}

/** A child workflow did not complete: its `cause` says why (failed, cancelled, terminated, timed out). */
export class ChildWorkflowFailure extends KeelFailure {
  override name = 'ChildWorkflowFailure';

  constructor(
    public readonly namespace: string | undefined,
    public readonly execution: { workflowId: string; runId: string },
    public readonly workflowType: string,
    public readonly retryState: RetryState,
    cause?: Error,
  ) {
    super('Child Workflow execution failed', cause);
  }
}

/** A failure raised by the engine itself, e.g. an activity type no worker has registered. */
export class ServerFailure extends KeelFailure {
  override name = 'ServerFailure';

  constructor(
    message: string | undefined,
    public readonly nonRetryable: boolean,
    cause?: Error,
  ) {
    super(message, cause);
  }
}

/** The `cause` of an error if it is an Error, else undefined. */
export function asError(value: unknown): Error | undefined {
  return value instanceof Error ? value : undefined;
}

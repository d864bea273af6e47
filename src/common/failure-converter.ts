/**
 * The one wire format for failures: `FailureInfo` is what the history stores and what crosses from
 * activity to workflow to client. Conversion is recursive through `cause`, so a chain such as
 * WorkflowFailedError ← ActivityFailure ← ApplicationFailure ← TypeError survives intact.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  ChildWorkflowFailure,
  KeelFailure,
  ServerFailure,
  TerminatedFailure,
  TimeoutFailure,
  type RetryState,
  type TimeoutType,
} from './failure.ts';
import { toWellFormed } from './payload.ts';

/** A serialised failure, as stored in the history. Shaped after Temporal's `Failure` message. */
export interface FailureInfo {
  message: string;
  stackTrace?: string;
  cause?: FailureInfo;
  applicationFailureInfo?: {
    type: string;
    nonRetryable: boolean;
    details?: unknown[];
    nextRetryDelay?: number;
  };
  activityFailureInfo?: {
    activityType: string;
    activityId: string;
    retryState: RetryState;
    identity?: string;
    scheduledEventId?: number;
    startedEventId?: number;
  };
  timeoutFailureInfo?: { timeoutType: TimeoutType; lastHeartbeatDetails?: unknown };
  canceledFailureInfo?: { details?: unknown[] };
  terminatedFailureInfo?: Record<string, never>;
  childWorkflowExecutionFailureInfo?: {
    workflowExecution: { workflowId: string; runId: string };
    workflowType: string;
    retryState: RetryState;
  };
  serverFailureInfo?: { nonRetryable: boolean };
}

/** Deepest causes beyond this are cut, so that a self-referencing cause chain cannot loop. */
const MAX_CAUSE_DEPTH = 20;

/** Serialises any thrown value. Errors that are not `KeelFailure`s become `ApplicationFailure`s typed by their `name`. */
export function encodeFailure(error: unknown, depth = 0): FailureInfo {
  // Messages and stacks are text the user did not pass as a payload: a string cut in the middle
  // of a surrogate pair is mended (U+FFFD) rather than refused, as Temporal's converters do.
  if (!(error instanceof Error)) {
    return {
      message: toWellFormed(String(error)),
      applicationFailureInfo: { type: 'Error', nonRetryable: false },
    };
  }
  const info: FailureInfo = {
    message: toWellFormed(error.message),
    stackTrace: toWellFormed(
      (error instanceof KeelFailure ? error.encodedStack : undefined) ?? error.stack ?? '',
    ),
  };
  if (error instanceof ApplicationFailure) {
    info.applicationFailureInfo = {
      type: error.type,
      nonRetryable: error.nonRetryable,
      ...(error.details.length > 0 ? { details: error.details } : {}),
      ...(error.nextRetryDelay !== undefined ? { nextRetryDelay: error.nextRetryDelay } : {}),
    };
  } else if (error instanceof ActivityFailure) {
    info.activityFailureInfo = {
      activityType: error.activityType,
      activityId: error.activityId,
      retryState: error.retryState,
      ...(error.identity !== undefined ? { identity: error.identity } : {}),
    };
  } else if (error instanceof TimeoutFailure) {
    info.timeoutFailureInfo = {
      timeoutType: error.timeoutType,
      ...(error.lastHeartbeatDetails !== undefined
        ? { lastHeartbeatDetails: error.lastHeartbeatDetails }
        : {}),
    };
  } else if (error instanceof CancelledFailure) {
    info.canceledFailureInfo = error.details.length > 0 ? { details: error.details } : {};
  } else if (error instanceof TerminatedFailure) {
    info.terminatedFailureInfo = {};
  } else if (error instanceof ChildWorkflowFailure) {
    info.childWorkflowExecutionFailureInfo = {
      workflowExecution: error.execution,
      workflowType: error.workflowType,
      retryState: error.retryState,
    };
  } else if (error instanceof ServerFailure) {
    info.serverFailureInfo = { nonRetryable: error.nonRetryable };
  } else {
    info.applicationFailureInfo = { type: error.name, nonRetryable: false };
  }
  if (error.cause !== undefined && depth < MAX_CAUSE_DEPTH)
    info.cause = encodeFailure(error.cause, depth + 1);
  return info;
}

/** Rebuilds the `KeelFailure` (with its cause chain and original stack) that {@link encodeFailure} wrote. */
export function decodeFailure(info: FailureInfo): KeelFailure {
  const cause = info.cause === undefined ? undefined : decodeFailure(info.cause);
  let failure: KeelFailure;
  if (info.activityFailureInfo) {
    const a = info.activityFailureInfo;
    failure = new ActivityFailure(
      info.message,
      a.activityType,
      a.activityId,
      a.retryState,
      a.identity,
      cause,
    );
  } else if (info.timeoutFailureInfo) {
    const t = info.timeoutFailureInfo;
    failure = new TimeoutFailure(info.message, t.lastHeartbeatDetails, t.timeoutType);
    if (cause)
      Object.defineProperty(failure, 'cause', { value: cause, writable: true, configurable: true });
  } else if (info.canceledFailureInfo) {
    failure = new CancelledFailure(info.message, info.canceledFailureInfo.details ?? [], cause);
  } else if (info.terminatedFailureInfo) {
    failure = new TerminatedFailure(info.message, cause);
  } else if (info.childWorkflowExecutionFailureInfo) {
    const c = info.childWorkflowExecutionFailureInfo;
    failure = new ChildWorkflowFailure(
      undefined,
      c.workflowExecution,
      c.workflowType,
      c.retryState,
      cause,
    );
  } else if (info.serverFailureInfo) {
    failure = new ServerFailure(info.message, info.serverFailureInfo.nonRetryable, cause);
  } else {
    const a = info.applicationFailureInfo ?? { type: 'Error', nonRetryable: false };
    failure = new ApplicationFailure(
      info.message,
      a.type,
      a.nonRetryable,
      a.details ?? [],
      cause,
      a.nextRetryDelay,
    );
  }
  if (info.stackTrace) {
    failure.encodedStack = info.stackTrace;
    failure.stack = info.stackTrace;
  }
  return failure;
}

/**
 * The replay core of one workflow run: events in, commands out, no I/O.
 *
 * Each workflow API call (an activity, a timer) takes the next sequence number of its kind, pushes a
 * command and registers a completion; each history event that answers one (ActivityTaskCompleted,
 * TimerFired, ...) resolves it. `WorkflowRunner` feeds events and checks the commands against the
 * history on replay.
 */
import type { Command } from '../state/commands.ts';
import type { HistoryEvent } from '../state/events.ts';
import { decodeFailure, encodeFailure } from '../common/failure-converter.ts';
import {
  ActivityFailure,
  CancelledFailure,
  KeelFailure,
  RetryState,
  TimeoutFailure,
} from '../common/failure.ts';
import { IllegalStateError } from '../common/errors.ts';
import { CancellationScope, runInScope } from './cancellation-scope.ts';
import { activatorStorage } from './context.ts';
import { seededRandom } from './random.ts';
import { systemClock } from '../engine/clock.ts';
import type { WorkflowInfo, WorkflowLogger } from './workflow-info.ts';
import type { ActivityCancellationType, CompiledActivityOptions } from './activity-options.ts';

const realNow = (): number => systemClock.now();

interface Completion {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface PendingActivity extends Completion {
  activityId: string;
  activityType: string;
  cancellationType: ActivityCancellationType;
  /** Set once the run's history has the ActivityTaskScheduled event for it. */
  scheduledEventId?: number;
  /** Settled early (cancelled with TRY_CANCEL or ABANDON); later events for it are ignored. */
  settled: boolean;
}

/** A workflow function: any async function of JSON-serialisable arguments. */
export type WorkflowFunction = (...args: any[]) => Promise<unknown>;

export class Activator {
  /** Commands produced by the current activation. */
  commands: Command[] = [];
  /** Workflow time: the start time of the current workflow task. */
  now = 0;
  isReplaying = false;
  /** True while an activation runs; commands made outside one mean the code awaited real I/O. */
  activating = false;
  /** An error that must fail the current workflow task (a bug in workflow code, not a workflow failure). */
  workflowTaskError?: Error;
  completed = false;
  readonly rootScope = CancellationScope.root();
  readonly random: () => number;
  private readonly seq = { activity: 0, timer: 0 };
  private readonly activities = new Map<number, PendingActivity>();
  private readonly activitySeqByScheduledEventId = new Map<number, number>();
  private readonly timers = new Map<number, Completion>();

  readonly info: WorkflowInfo;

  constructor(
    info: Omit<WorkflowInfo, 'unsafe'>,
    private readonly workflow: WorkflowFunction,
    readonly logger: WorkflowLogger,
  ) {
    const isReplaying = (): boolean => this.isReplaying;
    this.info = {
      ...info,
      unsafe: {
        get isReplaying() {
          return isReplaying();
        },
        now: realNow,
      },
    };
    this.random = seededRandom(info.runId);
  }

  /** Runs `fn` as this run's workflow code. */
  run<T>(fn: () => T): T {
    return activatorStorage.run(this, () => runInScope(this.rootScope, fn));
  }

  pushCommand(command: Command): void {
    if (this.completed) return; // after the run's closing command nothing else is sent, as in Temporal
    if (!this.activating && !this.workflowTaskError) {
      this.workflowTaskError = new IllegalStateError(
        `Workflow '${this.info.workflowType}' made a ${command.commandType} command outside a workflow task: its code awaited something that is not a workflow API (real I/O, a real timer, a dynamic import). Move that work into an activity.`,
      );
    }
    this.commands.push(command);
  }

  /** Removes a command of this activation that was not sent yet; false if it was already sent. */
  private unsend(match: (command: Command) => boolean): boolean {
    const index = this.commands.findIndex(match);
    if (index < 0) return false;
    this.commands.splice(index, 1);
    return true;
  }

  // ---- the workflow API ----

  startTimer(ms: number): { promise: Promise<void>; cancel: () => void } {
    const scope = CancellationScope.current();
    const seq = ++this.seq.timer;
    const timerId = String(seq);
    let cancel = (): void => undefined;
    const promise = new Promise<void>((resolve, reject) => {
      if (scope.consideredCancelled) {
        reject(new CancelledFailure('Timer cancelled before it started'));
        return;
      }
      this.pushCommand({
        commandType: 'StartTimer',
        attributes: { timerId, startToFireTimeout: Math.max(1, ms) },
      });
      let unsubscribe = (): void => undefined;
      const settle = (): boolean => {
        unsubscribe();
        return this.timers.delete(seq);
      };
      this.timers.set(seq, {
        resolve: (value) => {
          settle();
          resolve(value as void);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      });
      cancel = () => {
        if (!settle()) return;
        if (
          !this.unsend((c) => c.commandType === 'StartTimer' && c.attributes.timerId === timerId)
        ) {
          this.pushCommand({ commandType: 'CancelTimer', attributes: { timerId } });
        }
        reject(new CancelledFailure('Timer cancelled'));
      };
      unsubscribe = scope.onCancel(() => cancel());
    });
    return { promise, cancel };
  }

  scheduleActivity(
    activityType: string,
    args: unknown[],
    options: CompiledActivityOptions,
  ): Promise<unknown> {
    const scope = CancellationScope.current();
    const seq = ++this.seq.activity;
    const activityId = options.activityId ?? String(seq);
    return new Promise((resolve, reject) => {
      if (scope.consideredCancelled) {
        reject(
          activityFailure(
            activityType,
            activityId,
            new CancelledFailure('Activity cancelled before it was scheduled'),
          ),
        );
        return;
      }
      this.pushCommand({
        commandType: 'ScheduleActivityTask',
        attributes: {
          activityId,
          activityType,
          taskQueue: options.taskQueue ?? this.info.taskQueue,
          input: args,
          ...(options.scheduleToCloseTimeout
            ? { scheduleToCloseTimeout: options.scheduleToCloseTimeout }
            : {}),
          ...(options.scheduleToStartTimeout
            ? { scheduleToStartTimeout: options.scheduleToStartTimeout }
            : {}),
          startToCloseTimeout: options.startToCloseTimeout,
          ...(options.heartbeatTimeout ? { heartbeatTimeout: options.heartbeatTimeout } : {}),
          retryPolicy: options.retry,
        },
      });
      let unsubscribe = (): void => undefined;
      const pending: PendingActivity = {
        activityId,
        activityType,
        cancellationType: options.cancellationType,
        settled: false,
        resolve: (value) => {
          unsubscribe();
          resolve(value);
        },
        reject: (error) => {
          unsubscribe();
          reject(error);
        },
      };
      this.activities.set(seq, pending);
      unsubscribe = scope.onCancel(() => this.cancelActivity(seq));
    });
  }

  private cancelActivity(seq: number): void {
    const pending = this.activities.get(seq);
    if (!pending || pending.settled) return;
    const cancelled = activityFailure(
      pending.activityType,
      pending.activityId,
      new CancelledFailure('Activity cancelled'),
    );
    const { activityId } = pending;
    if (
      this.unsend(
        (c) => c.commandType === 'ScheduleActivityTask' && c.attributes.activityId === activityId,
      )
    ) {
      this.activities.delete(seq);
      pending.reject(cancelled);
      return;
    }
    if (pending.cancellationType !== 'ABANDON') {
      this.pushCommand({ commandType: 'RequestCancelActivityTask', attributes: { activityId } });
    }
    if (pending.cancellationType !== 'WAIT_CANCELLATION_COMPLETED') {
      pending.settled = true;
      pending.reject(cancelled);
    }
  }

  // ---- history events in ----

  /** The history recorded the ActivityTaskScheduled event of activity `seq`. */
  bindActivity(activityId: string, scheduledEventId: number): number | undefined {
    for (const [seq, pending] of this.activities) {
      if (pending.activityId === activityId && pending.scheduledEventId === undefined) {
        pending.scheduledEventId = scheduledEventId;
        this.activitySeqByScheduledEventId.set(scheduledEventId, seq);
        return seq;
      }
    }
    return undefined;
  }

  scheduledEventIdOf(activityId: string): number | undefined {
    for (const pending of this.activities.values())
      if (pending.activityId === activityId) return pending.scheduledEventId;
    return undefined;
  }

  /** Applies one event that the workflow reacts to. */
  apply(event: HistoryEvent): void {
    switch (event.eventType) {
      case 'WorkflowExecutionStarted':
        return this.start(event.attributes.input);
      case 'WorkflowExecutionCancelRequested':
        return this.rootScope.cancel(new CancelledFailure('Workflow cancelled'));
      case 'TimerFired':
        this.timers.get(Number(event.attributes.timerId))?.resolve(undefined);
        return;
      case 'ActivityTaskCompleted':
        return this.settleActivity(event.attributes.scheduledEventId, (p) =>
          p.resolve(event.attributes.result),
        );
      case 'ActivityTaskFailed':
        return this.settleActivity(event.attributes.scheduledEventId, (p) =>
          p.reject(
            activityFailure(
              p.activityType,
              p.activityId,
              decodeFailure(event.attributes.failure),
              event.attributes.retryState,
            ),
          ),
        );
      case 'ActivityTaskTimedOut':
        return this.settleActivity(event.attributes.scheduledEventId, (p) =>
          p.reject(
            activityFailure(
              p.activityType,
              p.activityId,
              decodeFailure(event.attributes.failure),
              event.attributes.retryState,
            ),
          ),
        );
      case 'ActivityTaskCanceled':
        return this.settleActivity(event.attributes.scheduledEventId, (p) =>
          p.reject(
            activityFailure(
              p.activityType,
              p.activityId,
              new CancelledFailure('Activity cancelled', event.attributes.details ?? []),
              RetryState.CANCEL_REQUESTED,
            ),
          ),
        );
      default:
        return;
    }
  }

  private settleActivity(
    scheduledEventId: number,
    settle: (pending: PendingActivity) => void,
  ): void {
    const seq = this.activitySeqByScheduledEventId.get(scheduledEventId);
    if (seq === undefined) return;
    const pending = this.activities.get(seq);
    this.activities.delete(seq);
    this.activitySeqByScheduledEventId.delete(scheduledEventId);
    if (pending && !pending.settled) settle(pending);
  }

  private start(args: unknown[]): void {
    const promise = this.run(() => {
      try {
        return this.workflow(...args);
      } catch (error) {
        return Promise.reject(error);
      }
    });
    promise.then(
      (result) =>
        this.complete({
          commandType: 'CompleteWorkflowExecution',
          attributes: result === undefined ? {} : { result },
        }),
      (error: unknown) => this.fail(error),
    );
  }

  private complete(command: Command): void {
    this.pushCommand(command);
    this.completed = true;
  }

  /**
   * Workflow code threw. A `KeelFailure` fails the run (cancellation after a cancel request cancels
   * it); any other error is treated as a bug: the workflow task fails and is retried, so that
   * deploying a fix resumes the run.
   */
  private fail(error: unknown): void {
    if (error instanceof CancelledFailure && this.rootScope.consideredCancelled) {
      this.complete({ commandType: 'CancelWorkflowExecution', attributes: {} });
    } else if (isCancelledActivity(error) && this.rootScope.consideredCancelled) {
      this.complete({ commandType: 'CancelWorkflowExecution', attributes: {} });
    } else if (error instanceof KeelFailure) {
      this.complete({
        commandType: 'FailWorkflowExecution',
        attributes: { failure: encodeFailure(error) },
      });
    } else {
      this.workflowTaskError = error instanceof Error ? error : new Error(String(error));
    }
  }
}

function isCancelledActivity(error: unknown): boolean {
  return error instanceof ActivityFailure && error.cause instanceof CancelledFailure;
}

function activityFailure(
  activityType: string,
  activityId: string,
  cause: KeelFailure,
  retryState: RetryState = RetryState.CANCEL_REQUESTED,
): ActivityFailure {
  const message =
    cause instanceof TimeoutFailure
      ? 'Activity task timed out'
      : cause instanceof CancelledFailure
        ? 'Activity task cancelled'
        : 'Activity task failed';
  return new ActivityFailure(message, activityType, activityId, retryState, undefined, cause);
}

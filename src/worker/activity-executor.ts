/**
 * Runs claimed activity attempts: calls the registered function with its context, sends throttled
 * heartbeats, enforces the attempt's deadline locally, and reports the outcome.
 */
import { crashPoint } from '../common/crash-points.ts';
import { TaskLostError } from '../common/errors.ts';
import { ApplicationFailure, CancelledFailure } from '../common/failure.ts';
import { encodeFailure } from '../common/failure-converter.ts';
import { assertPayload, PayloadError } from '../common/payload.ts';
import { Context, type ActivityCancellationReason } from '../activity/context.ts';
import type { Engine } from '../engine/engine.ts';
import type { ActivityTaskGrant, WorkflowTaskGrant } from '../engine/grants.ts';
import type { EagerWorkflowTask } from '../engine/engine.ts';
import type { Dispatch } from './dispatch.ts';
import type { WorkflowLogger } from '../runtime/workflow-info.ts';
import { runningExpiry } from '../state/activity-deadlines.ts';
import type { ActivityFunction } from '../workflow/activities.ts';

/** Without a heartbeat timeout, heartbeats still carry cancellation; they are sent at most this often. */
const DEFAULT_HEARTBEAT_THROTTLE_MS = 30_000;
/**
 * Time left after a heartbeat is sent for it to be recorded before the timeout: heartbeats go at
 * 0.8 x heartbeatTimeout (as in Temporal), but no later than this before the deadline (and no more
 * often than twice per timeout), since a busy store can take a good part of a short timeout to commit.
 */
const HEARTBEAT_HEADROOM_MS = 200;

export class ActivityExecutor {
  /** Attempts running now, to cancel them at shutdown. */
  readonly running = new Set<Context>();

  constructor(
    private readonly engine: Engine,
    private readonly activities: ReadonlyMap<string, ActivityFunction>,
    private readonly identity: string,
    private readonly logger: WorkflowLogger,
    private readonly dispatch: Dispatch,
  ) {}

  async execute(grant: ActivityTaskGrant): Promise<void> {
    const { task } = grant;
    const fn = this.activities.get(task.activityType);
    if (!fn) {
      const registered = [...this.activities.keys()].join(', ') || 'none';
      await this.report((eager) =>
        this.engine.failActivityTask(
          grant,
          encodeFailure(
            ApplicationFailure.create({
              message: `Activity type '${task.activityType}' is not registered on this worker (task queue '${grant.taskQueue}'; registered: ${registered}).`,
              type: 'NotFoundError',
            }),
          ),
          this.identity,
          undefined,
          eager,
        ),
      );
      return;
    }

    // The engine times the attempt out at its deadline; this tells the activity at the same moment.
    // Each recorded heartbeat moves the heartbeat deadline, so the timer is re-armed then.
    let deadlineTimer: NodeJS.Timeout | undefined;
    let armings = 0;
    const expiryWith = (lastHeartbeatTime?: number) =>
      runningExpiry({
        ...task,
        startedTime: grant.startedTime,
        ...(lastHeartbeatTime ? { lastHeartbeatTime } : {}),
      });
    const armDeadline = (lastHeartbeatTime?: number) => {
      clearTimeout(deadlineTimer);
      const arming = ++armings;
      const timedOut = () => {
        if (arming === armings) context.cancel('TIMED_OUT');
      };
      const atDeadline = () => {
        // The engine records a heartbeat at the time it got it: one sent before this deadline and
        // still unanswered may move it, up to that heartbeat's own deadline. Its answer decides,
        // or that deadline if the store does not answer by then.
        const pending = heartbeats.inFlight;
        const wait = pending ? expiryWith(pending.sentAt) - this.engine.clock.now() : 0;
        if (!pending || wait <= 0) return timedOut();
        deadlineTimer = setTimeout(timedOut, wait);
        void pending.answered.then(timedOut);
      };
      deadlineTimer = setTimeout(
        atDeadline,
        Math.max(0, expiryWith(lastHeartbeatTime) - this.engine.clock.now()),
      );
    };
    const heartbeats = new HeartbeatSender(this.engine, grant, task.heartbeatTimeout, {
      cancel: (reason) => context.cancel(reason),
      recorded: (at) => armDeadline(at),
      failed: (error) =>
        this.logger.log(
          'warn',
          `Recording a heartbeat of activity '${task.activityType}' failed: ${(error as Error)?.message ?? String(error)}`,
        ),
    });
    const context = new Context(
      {
        activityId: task.activityId,
        activityType: task.activityType,
        attempt: task.attempt,
        workflowExecution: { workflowId: task.workflowId, runId: grant.runId },
        workflowType: task.workflowType,
        taskQueue: grant.taskQueue,
        heartbeatDetails: task.heartbeatDetails,
        scheduledTimestampMs: task.scheduledTime,
        startedTimestampMs: grant.startedTime,
        startToCloseTimeoutMs: task.startToCloseTimeout,
        ...(task.scheduleToCloseTimeout
          ? { scheduleToCloseTimeoutMs: task.scheduleToCloseTimeout }
          : {}),
        ...(task.heartbeatTimeout ? { heartbeatTimeoutMs: task.heartbeatTimeout } : {}),
      },
      (details) => heartbeats.heartbeat(details),
    );
    armDeadline();
    this.running.add(context);
    try {
      let result: unknown;
      try {
        result = await context.run(() => fn(...task.input));
        assertPayload(result, `the result of activity '${task.activityType}'`);
      } catch (error) {
        await this.reportFailure(grant, context, heartbeats, error);
        return;
      }
      crashPoint('activity-before-complete');
      await this.report((eager) =>
        this.engine.completeActivityTask(grant, result, this.identity, eager),
      );
    } finally {
      clearTimeout(deadlineTimer);
      armings++; // a heartbeat's answer still awaited no longer cancels anything
      heartbeats.stop();
      this.running.delete(context);
    }
  }

  private async reportFailure(
    grant: ActivityTaskGrant,
    context: Context,
    heartbeats: HeartbeatSender,
    error: unknown,
  ): Promise<void> {
    const reason = context.cancellationReason;
    // The engine already closed or re-dispatched this attempt: a report would be refused.
    if (reason === 'TIMED_OUT' || reason === 'NOT_FOUND') return;
    if (reason === 'CANCELLED' && error instanceof CancelledFailure) {
      await this.report((eager) =>
        this.engine.cancelActivityTask(grant, error.details, this.identity, eager),
      );
      return;
    }
    const failure =
      error instanceof PayloadError
        ? ApplicationFailure.create({
            message: error.message,
            type: 'PayloadError',
            nonRetryable: true,
          })
        : reason === 'WORKER_SHUTDOWN' && error instanceof CancelledFailure
          ? ApplicationFailure.create({
              message: `Worker ${this.identity} shut down during the attempt`,
              type: 'WorkerShutdown',
            })
          : error;
    await this.report((eager) =>
      this.engine.failActivityTask(
        grant,
        encodeFailure(failure),
        this.identity,
        heartbeats.unsentDetails,
        eager,
      ),
    );
  }

  /** Sends an outcome; the workflow task it schedules comes back in the same transaction if a slot is free. */
  private async report(
    send: (eager: EagerWorkflowTask | undefined) => Promise<WorkflowTaskGrant | undefined>,
  ): Promise<void> {
    const eager = this.dispatch.reserveWorkflowTask();
    let next: WorkflowTaskGrant | undefined;
    try {
      next = await send(eager);
    } catch (error) {
      if (!(error instanceof TaskLostError)) throw error;
      this.logger.log('warn', error.message);
    } finally {
      if (next) this.dispatch.runWorkflowTask(next);
      else if (eager && !eager.onlyIfRunNow) this.dispatch.releaseWorkflowTask();
    }
  }
}

/**
 * Sends heartbeats at most every 80% of the heartbeat timeout (as Temporal does), always the latest
 * details, and turns the engine's answer into a cancellation of the attempt.
 */
class HeartbeatSender {
  private readonly intervalMs: number;
  private lastSentAt = 0;
  private timer?: NodeJS.Timeout;
  /** The heartbeat being recorded, if one is: when it was sent, and its answer handled. */
  inFlight: { sentAt: number; answered: Promise<void> } | undefined;
  private hasUnsent = false;
  private details: unknown;
  private stopped = false;

  constructor(
    private readonly engine: Engine,
    private readonly grant: ActivityTaskGrant,
    heartbeatTimeout: number | undefined,
    private readonly on: {
      cancel: (reason: ActivityCancellationReason) => void;
      recorded: (at: number) => void;
      /** Recording failed for another reason than the task being lost (the store, say). */
      failed: (error: unknown) => void;
    },
  ) {
    this.intervalMs = heartbeatTimeout
      ? Math.max(
          heartbeatTimeout / 2,
          Math.min(heartbeatTimeout * 0.8, heartbeatTimeout - HEARTBEAT_HEADROOM_MS),
        )
      : DEFAULT_HEARTBEAT_THROTTLE_MS;
  }

  get unsentDetails(): unknown {
    return this.hasUnsent ? this.details : undefined;
  }

  heartbeat(details: unknown): void {
    if (this.stopped) return;
    this.details = details;
    this.hasUnsent = true;
    if (this.inFlight || this.timer) return;
    const wait = this.lastSentAt + this.intervalMs - Date.now();
    if (wait <= 0) this.send();
    else this.timer = setTimeout(() => this.send(), wait);
  }

  private send(): void {
    this.timer = undefined;
    if (this.stopped) return;
    this.hasUnsent = false;
    this.lastSentAt = Date.now();
    const sentAt = this.engine.clock.now();
    const answered = this.record(sentAt).finally(() => {
      this.inFlight = undefined;
      if (this.hasUnsent && !this.stopped) this.heartbeat(this.details);
    });
    this.inFlight = { sentAt, answered };
  }

  private async record(sentAt: number): Promise<void> {
    try {
      const { cancelRequested } = await this.engine.heartbeatActivityTask(this.grant, this.details);
      if (!this.stopped) this.on.recorded(sentAt);
      if (cancelRequested) this.on.cancel('CANCELLED');
    } catch (error) {
      if (error instanceof TaskLostError)
        this.on.cancel(error.reason === 'gone' ? 'NOT_FOUND' : 'TIMED_OUT');
      else this.on.failed(error);
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}

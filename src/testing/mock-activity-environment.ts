import { EventEmitter } from 'node:events';
import {
  Context,
  type ActivityCancellationReason,
  type ActivityInfo,
} from '../activity/context.ts';

/** Info for an activity run outside a worker; every field can be overridden. */
export const defaultActivityInfo: ActivityInfo = {
  activityId: 'test',
  activityType: 'unnamed',
  attempt: 1,
  workflowExecution: { workflowId: 'test', runId: 'test-run' },
  workflowType: 'test',
  taskQueue: 'test',
  heartbeatDetails: undefined,
  scheduledTimestampMs: 0,
  startedTimestampMs: 0,
  startToCloseTimeoutMs: 60_000,
};

/**
 * Runs an activity function with a real `Context` and no worker: records its heartbeats (also
 * emitted as `'heartbeat'` events), lets a test cancel it mid-run, set its attempt and the heartbeat
 * details of a previous attempt, and enforces its start-to-close and heartbeat timeouts (the
 * activity learns of them through its cancellation signal, reason TIMED_OUT).
 *
 * @example
 * const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: 40 });
 * env.on('heartbeat', (row) => rows.push(row));
 * const imported = await env.run(importRows, 'data.csv');
 */
export class MockActivityEnvironment extends EventEmitter {
  readonly context: Context;
  readonly heartbeats: unknown[] = [];
  private deadline?: NodeJS.Timeout;
  private heartbeatDeadline?: NodeJS.Timeout;

  constructor(info: Partial<ActivityInfo> = {}) {
    super();
    const now = Date.now();
    const full: ActivityInfo = {
      ...defaultActivityInfo,
      scheduledTimestampMs: now,
      startedTimestampMs: now,
      ...info,
    };
    this.context = new Context(full, (details) => {
      this.heartbeats.push(details);
      this.armHeartbeatDeadline();
      this.emit('heartbeat', details);
    });
  }

  /** Runs `fn` as the activity; the timeouts in its info start now. */
  async run<F extends (...args: any[]) => unknown>(
    fn: F,
    ...args: Parameters<F>
  ): Promise<Awaited<ReturnType<F>>> {
    const { startToCloseTimeoutMs } = this.context.info;
    this.deadline = setTimeout(() => this.cancel('TIMED_OUT'), startToCloseTimeoutMs);
    this.armHeartbeatDeadline();
    try {
      return (await this.context.run(() => fn(...args))) as Awaited<ReturnType<F>>;
    } finally {
      clearTimeout(this.deadline);
      clearTimeout(this.heartbeatDeadline);
    }
  }

  /** Cancels the running activity, as a workflow's cancellation (or a timeout) would. */
  cancel(reason: ActivityCancellationReason = 'CANCELLED'): void {
    this.context.cancel(reason);
  }

  private armHeartbeatDeadline(): void {
    const { heartbeatTimeoutMs } = this.context.info;
    if (!heartbeatTimeoutMs) return;
    clearTimeout(this.heartbeatDeadline);
    this.heartbeatDeadline = setTimeout(() => this.cancel('TIMED_OUT'), heartbeatTimeoutMs);
  }
}

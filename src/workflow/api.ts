import { toMs, type Duration } from '../common/duration.ts';
import { currentActivator, maybeActivator } from '../runtime/context.ts';
import { uuid4From } from '../runtime/random.ts';
import type { LogLevel, WorkflowInfo } from '../runtime/workflow-info.ts';

/**
 * Waits for `duration` on a durable timer: the wait survives worker restarts, and a sleeping workflow
 * costs nothing while it waits. Cancellable through the enclosing `CancellationScope`.
 *
 * @example
 * await sleep('3 days');
 */
export function sleep(duration: Duration): Promise<void> {
  const ms = toMs(duration, 'sleep() duration');
  return currentActivator('sleep()').startTimer(ms).promise;
}

/**
 * The current run's identity and settings.
 *
 * @example
 * const { workflowId, attempt } = workflowInfo();
 */
export function workflowInfo(): WorkflowInfo {
  return currentActivator('workflowInfo()').info;
}

/**
 * A random UUID that is the same on every replay of this run.
 *
 * @example
 * const idempotencyKey = uuid4();
 */
export function uuid4(): string {
  return uuid4From(currentActivator('uuid4()').random);
}

function logAt(level: LogLevel) {
  return (message: string, attributes?: Record<string, unknown>): void => {
    const activator = maybeActivator();
    if (!activator) {
      console[level](message, attributes ?? '');
      return;
    }
    if (activator.isReplaying) return;
    const { workflowId, runId, workflowType } = activator.info;
    activator.logger.log(level, message, { ...attributes, workflowId, runId, workflowType });
  };
}

/**
 * A logger for workflow code that stays silent while the workflow replays, so each line is written
 * once however often the code runs.
 *
 * @example
 * log.info('order charged', { orderId });
 */
export const log = {
  debug: logAt('debug'),
  info: logAt('info'),
  warn: logAt('warn'),
  error: logAt('error'),
};

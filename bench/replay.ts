/**
 * Replay benchmarks: cold replay of a long history (time and heap), and the heap a cached idle
 * workflow holds. Histories are built the way the engine writes them, without a store, so the
 * figures are the replay core's alone.
 */
import { Worker } from 'keel/worker';
import type { HistoryEvent } from 'keel/client';
import { WorkflowRunner } from '../src/runtime/workflow-runner.ts';
import { summarize } from './stats.ts';
import * as workflows from './replay-workflows.ts';

const silent = { log: () => undefined };

/** The history of `longRun(steps)`: per step a workflow task and an activity (6 events), then completion. */
export function longRunHistory(steps: number): {
  format: 'keel-history';
  version: 1;
  workflowId: string;
  runId: string;
  events: HistoryEvent[];
} {
  const events: HistoryEvent[] = [];
  let t = 1_764_000_000_000;
  const add = (eventType: string, attributes: Record<string, unknown>) => {
    events.push({
      eventId: events.length + 1,
      eventTime: (t += 1),
      eventType,
      attributes,
    } as HistoryEvent);
    return events.length;
  };
  add('WorkflowExecutionStarted', {
    workflowType: 'longRun',
    taskQueue: 'bench',
    input: [steps],
    workflowId: 'long',
    workflowTaskTimeout: 10_000,
    firstExecutionRunId: 'run',
    attempt: 1,
  });
  const task = () => {
    const scheduled = add('WorkflowTaskScheduled', {
      taskQueue: 'bench',
      startToCloseTimeout: 10_000,
      attempt: 1,
    });
    const started = add('WorkflowTaskStarted', { scheduledEventId: scheduled, identity: 'bench' });
    return add('WorkflowTaskCompleted', {
      scheduledEventId: scheduled,
      startedEventId: started,
      identity: 'bench',
    });
  };
  for (let i = 0; i < steps; i++) {
    const completed = task();
    const scheduled = add('ActivityTaskScheduled', {
      activityId: String(i + 1),
      activityType: 'addOne',
      taskQueue: 'bench',
      input: [i],
      startToCloseTimeout: 30_000,
      retryPolicy: {
        initialInterval: 1000,
        backoffCoefficient: 2,
        maximumInterval: 100_000,
        maximumAttempts: 0,
        nonRetryableErrorTypes: [],
      },
      workflowTaskCompletedEventId: completed,
    });
    const started = add('ActivityTaskStarted', {
      scheduledEventId: scheduled,
      identity: 'bench',
      attempt: 1,
    });
    add('ActivityTaskCompleted', {
      scheduledEventId: scheduled,
      startedEventId: started,
      identity: 'bench',
      result: i + 1,
    });
  }
  const completed = task();
  add('WorkflowExecutionCompleted', { result: steps, workflowTaskCompletedEventId: completed });
  return { format: 'keel-history', version: 1, workflowId: 'long', runId: 'run', events };
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

export interface ReplayFigures {
  events: number;
  coldReplayMs: { p50: number; p99: number; runs: number };
  coldReplayHeapMb: number;
  cachedIdleWorkflowBytes: number;
  cachedWorkflowsMeasured: number;
}

export async function benchReplay(
  targetEvents = 10_000,
  runs = 20,
  cached = 2000,
): Promise<ReplayFigures> {
  const steps = Math.ceil((targetEvents - 4) / 6);
  const history = longRunHistory(steps);
  const json = JSON.stringify(history);
  // Warm up the JIT on the same path.
  for (let i = 0; i < 3; i++) await Worker.runReplayHistory({ workflows }, json);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await Worker.runReplayHistory({ workflows }, json); // from the JSON text, as a history file is read
    times.push(performance.now() - start);
  }
  const before = heap();
  const runner = new WorkflowRunner(
    workflows.longRun,
    WorkflowRunner.infoFrom(history.events[0]!, 'run'),
    silent,
  );
  await runner.replayAll(history.events);
  const heapDuring = process.memoryUsage().heapUsed - before;

  // Cached idle workflows: what the worker's cache holds between tasks.
  const runners: WorkflowRunner[] = [];
  const first = longRunHistory(0).events[0]!;
  const idleStart = {
    ...first,
    attributes: { ...first.attributes, workflowType: 'idleEntity', input: [] },
  } as HistoryEvent;
  const baseline = heap();
  for (let i = 0; i < cached; i++) {
    const runId = `idle-${i}`;
    const r = new WorkflowRunner(
      workflows.idleEntity,
      WorkflowRunner.infoFrom(idleStart, runId),
      silent,
    );
    await r.runTask({
      startedEventId: 3,
      history: [
        idleStart,
        {
          eventId: 2,
          eventTime: first.eventTime,
          eventType: 'WorkflowTaskScheduled',
          attributes: { taskQueue: 'bench', startToCloseTimeout: 10_000, attempt: 1 },
        },
        {
          eventId: 3,
          eventTime: first.eventTime,
          eventType: 'WorkflowTaskStarted',
          attributes: { scheduledEventId: 2, identity: 'bench' },
        },
      ],
    });
    runners.push(r);
  }
  const perWorkflow = (heap() - baseline) / cached;
  if (runners.length !== cached) throw new Error('runners were collected');
  const stats = summarize(times);
  return {
    events: history.events.length,
    coldReplayMs: {
      p50: Math.round(stats.p50 * 10) / 10,
      p99: Math.round(stats.p99 * 10) / 10,
      runs,
    },
    coldReplayHeapMb: Math.round((heapDuring / 1024 / 1024) * 10) / 10,
    cachedIdleWorkflowBytes: Math.round(perWorkflow),
    cachedWorkflowsMeasured: cached,
  };
}

/**
 * Builders for the records a store keeps (runs, history events, tasks) and small test utilities,
 * shared by the contract suite, the SQLite tests and their child-process scripts.
 */
import type { Engine } from '../../src/engine/engine.ts';
import type { ExecutionState } from '../../src/state/execution-state.ts';
import type { HistoryEvent } from '../../src/state/events.ts';
import type { ActivityTaskData, TaskRecord } from '../../src/state/tasks.ts';
import assert from 'node:assert/strict';
import type { Store, StoreHint } from '../../src/store/store.ts';

export function execution(overrides: Partial<ExecutionState> = {}): ExecutionState {
  return {
    workflowId: 'wf-1',
    runId: 'run-1',
    workflowType: 'OrderWorkflow',
    taskQueue: 'orders',
    status: 'Running',
    startTime: 1_000,
    nextEventId: 1,
    workflowTaskTimeout: 10_000,
    lastCompletedStartedEventId: 0,
    bufferedEvents: [],
    activities: {},
    timers: {},
    cancelRequested: false,
    ...overrides,
  };
}

/** `count` TimerFired events with ids `from`, `from + 1`, ...; event n has time `time + n`. */
export function events(from: number, count: number, time = 5_000): HistoryEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    eventId: from + i,
    eventTime: time + from + i,
    eventType: 'TimerFired' as const,
    attributes: { timerId: `timer-${from + i}`, startedEventId: from + i - 1 },
  }));
}

export function workflowTask(
  runId: string,
  overrides: Partial<TaskRecord<'workflow'>> = {},
): TaskRecord<'workflow'> {
  return {
    key: `${runId}/workflow`,
    kind: 'workflow',
    runId,
    taskQueue: 'orders',
    state: 'ready',
    claimToken: 0,
    data: {},
    ...overrides,
  };
}

export function activityData(overrides: Partial<ActivityTaskData> = {}): ActivityTaskData {
  return {
    workflowId: 'wf-1',
    workflowType: 'OrderWorkflow',
    scheduledEventId: 5,
    activityId: '1',
    activityType: 'chargeCard',
    input: [{ amount: 42, currency: 'EUR' }],
    scheduledTime: 2_000,
    startToCloseTimeout: 30_000,
    retryPolicy: {
      initialInterval: 1_000,
      backoffCoefficient: 2,
      maximumInterval: 100_000,
      maximumAttempts: 0,
      nonRetryableErrorTypes: [],
    },
    attempt: 1,
    readyTime: 2_000,
    ...overrides,
  };
}

export function activityTask(
  runId: string,
  scheduledEventId: number,
  overrides: Partial<TaskRecord<'activity'>> = {},
): TaskRecord<'activity'> {
  return {
    key: `${runId}/activity/${scheduledEventId}`,
    kind: 'activity',
    runId,
    taskQueue: 'orders',
    state: 'ready',
    claimToken: 0,
    data: activityData({ scheduledEventId, activityId: String(scheduledEventId) }),
    ...overrides,
  };
}

export function timerTask(runId: string, timerId: string, expiresAt: number): TaskRecord<'timer'> {
  return {
    key: `${runId}/timer/${timerId}`,
    kind: 'timer',
    runId,
    state: 'waiting',
    expiresAt,
    claimToken: 0,
    data: { timerId },
  };
}

/** Polls `condition` until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Settles with the promise, or rejects naming `what` if it has not settled after `timeoutMs`. */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not settle within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Everything a PostgreSQL store hears once its LISTEN connection is up. Call it before awaiting
 * anything after opening the store: the listener connects only after the migration, and announces
 * itself with one `external-change`, which a later subscriber could miss. That announcement is
 * not in the returned list.
 */
export async function hearingFromConnect(store: Store): Promise<StoreHint[]> {
  const heard: StoreHint[] = [];
  store.subscribe((hint) => heard.push(hint));
  await waitFor(() => heard.some((h) => h.type === 'external-change'), 'the listener to connect');
  heard.length = 0;
  return heard;
}

/** Hints of a store, as they arrive; `external-change` (which another process may cause) left out. */
export function recordHints(subscribe: (listener: (hint: StoreHint) => void) => () => void) {
  const hints: StoreHint[] = [];
  const unsubscribe = subscribe((hint) => {
    if (hint.type !== 'external-change') hints.push(hint);
  });
  return { hints, unsubscribe };
}

export interface Grant {
  kind: 'workflow' | 'activity';
  key: string;
  claimToken: number;
  identity: string;
}

/**
 * One round of a claim race: three workflow-task and three activity-task claims at once, two tasks
 * each, all started before any settles (so the store batches them).
 */
export async function claimRound(
  engine: Engine,
  identity: string,
  workflowQueue: string,
  activityQueue: string,
): Promise<Grant[]> {
  const claims = [0, 1, 2].flatMap(() => [
    engine
      .claimWorkflowTasks(workflowQueue, 2, identity, () => 1)
      .then(({ grants }) =>
        grants.map((g) => ({ kind: 'workflow' as const, ...g.claim, identity })),
      ),
    engine
      .claimActivityTasks(activityQueue, 2, identity)
      .then(({ grants }) =>
        grants.map((g) => ({ kind: 'activity' as const, ...g.claim, identity })),
      ),
  ]);
  return (await Promise.all(claims)).flat();
}

export async function createRaceTasks(store: Store, activities: number, workflows: number) {
  const activityKeys = Array.from({ length: activities }, (_, i) => `run-${i}/activity/5`);
  const runIds = Array.from({ length: workflows }, (_, i) => `race-run-${i}`);
  await store.transaction(async (tx) => {
    await tx.applyTaskChanges(
      activityKeys.map((_, i) => ({
        op: 'put',
        task: activityTask(`run-${i}`, 5, { taskQueue: 'race-activities' }),
      })),
    );
    for (const runId of runIds) {
      await tx.insertExecution(
        execution({
          runId,
          workflowId: `wf-${runId}`,
          taskQueue: 'race-workflows',
          nextEventId: 3,
          workflowTask: { scheduledEventId: 2, attempt: 1, scheduledTime: 1_000 },
        }),
      );
      await tx.appendEvents(runId, events(1, 2));
      await tx.applyTaskChanges([
        { op: 'put', task: workflowTask(runId, { taskQueue: 'race-workflows' }) },
      ]);
    }
  });
  return { activityKeys, workflowKeys: runIds.map((id) => `${id}/workflow`) };
}

/** Every task was granted exactly once, to the holder its row names, and every racer won some. */
export async function assertGrantedOnce(
  store: Store,
  granted: Grant[],
  expectedKeys: string[],
  racers: number,
): Promise<void> {
  assert.deepEqual(
    granted.map((g) => g.key).sort(),
    [...expectedKeys].sort(),
    'every task granted exactly once',
  );
  const identities = new Set(granted.map((g) => g.identity));
  assert.equal(identities.size, racers, `every racer claimed tasks: ${[...identities].join(', ')}`);
  await store.transaction(async (tx) => {
    for (const grant of granted) {
      const task = await tx.getTask(grant.key);
      assert.equal(task?.state, 'claimed', grant.key);
      assert.equal(task?.claimToken, grant.claimToken, grant.key);
      assert.equal(task?.claimedBy, grant.identity, grant.key);
    }
  });
}

/**
 * Checks of the fault tests over real histories: what must hold of a run however many workers died,
 * whatever the network or the database did meanwhile.
 */
import type { HistoryEvent } from 'keel/client';
import type { JournalEntry } from './journal.ts';

export const count = (events: HistoryEvent[], type: string): number =>
  events.filter((e) => e.eventType === type).length;

const attr = (event: HistoryEvent, name: string): unknown =>
  (event.attributes as Record<string, unknown>)[name];

/**
 * The problems (none if clean) of the history of a workflow that ran `activities` activities in
 * sequence, each adding 1 to `input`:
 * - event ids are 1, 2, 3, ... with no gap or repeat;
 * - exactly `activities` ActivityTaskScheduled, each with exactly one ActivityTaskCompleted (no
 *   result recorded twice), whose results are input + 1, input + 2, ...;
 * - exactly one WorkflowExecutionCompleted, the last event, with input + `activities`;
 * - no workflow task completed twice: at most one outcome (completed, failed or timed out) per
 *   WorkflowTaskScheduled, and no WorkflowTaskFailed at all.
 */
export function historyProblems(
  events: HistoryEvent[],
  input: number,
  activities: number,
): string[] {
  const problems: string[] = [];
  events.forEach((event, index) => {
    if (event.eventId !== index + 1)
      problems.push(`event #${index + 1} has id ${event.eventId} (ids not contiguous)`);
  });
  const scheduled = events.filter((e) => e.eventType === 'ActivityTaskScheduled');
  if (scheduled.length !== activities)
    problems.push(`${scheduled.length} ActivityTaskScheduled, expected ${activities}`);
  scheduled.forEach((s, index) => {
    const completed = events.filter(
      (e) => e.eventType === 'ActivityTaskCompleted' && attr(e, 'scheduledEventId') === s.eventId,
    );
    if (completed.length !== 1)
      problems.push(`activity scheduled at ${s.eventId} has ${completed.length} completions`);
    else if (attr(completed[0]!, 'result') !== input + index + 1)
      problems.push(
        `activity scheduled at ${s.eventId} returned ${String(attr(completed[0]!, 'result'))}`,
      );
  });
  const completions = count(events, 'ActivityTaskCompleted');
  if (completions !== activities)
    problems.push(`${completions} ActivityTaskCompleted, expected ${activities}`);
  const closed = events.filter((e) => e.eventType === 'WorkflowExecutionCompleted');
  if (closed.length !== 1) problems.push(`${closed.length} WorkflowExecutionCompleted`);
  else if (closed[0] !== events.at(-1)) problems.push('WorkflowExecutionCompleted is not last');
  else if (attr(closed[0]!, 'result') !== input + activities)
    problems.push(`the workflow returned ${String(attr(closed[0]!, 'result'))}`);
  const outcomes = new Map<unknown, string[]>();
  for (const e of events) {
    if (
      e.eventType === 'WorkflowTaskCompleted' ||
      e.eventType === 'WorkflowTaskFailed' ||
      e.eventType === 'WorkflowTaskTimedOut'
    ) {
      const key = attr(e, 'scheduledEventId');
      outcomes.set(key, [...(outcomes.get(key) ?? []), e.eventType]);
    }
  }
  for (const [scheduledEventId, types] of outcomes) {
    if (types.length > 1)
      problems.push(
        `workflow task ${String(scheduledEventId)} closed ${types.length} times: ${types.join(', ')}`,
      );
  }
  if (count(events, 'WorkflowTaskFailed') > 0) problems.push('a workflow task failed');
  return problems;
}

/** The ActivityTaskStarted event of the recorded attempt of the activity scheduled at `scheduledEventId`. */
export function recordedStart(
  events: HistoryEvent[],
  scheduledEventId: number,
): { identity: string; attempt: number } | undefined {
  const completed = events.find(
    (e) =>
      e.eventType === 'ActivityTaskCompleted' && attr(e, 'scheduledEventId') === scheduledEventId,
  );
  const started = completed && events.find((e) => e.eventId === attr(completed, 'startedEventId'));
  return (
    started && {
      identity: attr(started, 'identity') as string,
      attempt: attr(started, 'attempt') as number,
    }
  );
}

/**
 * Activities whose recorded result has no journaled execution behind it (a result made up or
 * recorded for the wrong attempt): each recorded attempt must have run, as journaled.
 */
export function unjournaledResults(
  workflowId: string,
  events: HistoryEvent[],
  journal: Map<string, JournalEntry[]>,
): string[] {
  const problems: string[] = [];
  for (const s of events.filter((e) => e.eventType === 'ActivityTaskScheduled')) {
    const start = recordedStart(events, s.eventId);
    const activityId = attr(s, 'activityId') as string;
    const ran = journal.get(`${workflowId}/${activityId}`) ?? [];
    if (start && !ran.some((j) => j.attempt === start.attempt && j.phase === 'done'))
      problems.push(
        `${workflowId} activity ${activityId} attempt ${start.attempt} recorded but never ran`,
      );
  }
  return problems;
}

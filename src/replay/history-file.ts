/**
 * Keel's history file format: what `handle.fetchHistory()` returns and `keel workflow show --json`
 * prints, and what replay takes. Version 1:
 *
 * ```json
 * { "format": "keel-history", "version": 1, "workflowId": "order-42", "runId": "…",
 *   "events": [ { "eventId": 1, "eventTime": 1764064800000, "eventType": "WorkflowExecutionStarted",
 *                 "attributes": { … } }, … ] }
 * ```
 *
 * Event ids are contiguous from 1, times are epoch milliseconds, the first event is
 * WorkflowExecutionStarted, and attributes are those of `src/state/events.ts`. A later version will
 * keep reading version 1 files.
 */
import { z } from 'zod';
import type { HistoryEvent } from '../state/events.ts';
import { EVENT_TYPES } from '../state/events.ts';

export const HISTORY_FORMAT = 'keel-history';
export const HISTORY_FORMAT_VERSION = 1;

/** A run's history as a file: the replay and export format. */
export interface WorkflowHistory {
  format: typeof HISTORY_FORMAT;
  version: typeof HISTORY_FORMAT_VERSION;
  workflowId: string;
  runId: string;
  events: HistoryEvent[];
}

/** A history that cannot be read: names where it came from and what is wrong. */
export class HistoryFormatError extends Error {
  override name = 'HistoryFormatError';
}

const eventSchema = z.object({
  eventId: z.number().int().positive(),
  eventTime: z.number().finite(),
  eventType: z.enum(EVENT_TYPES),
  attributes: z.record(z.string(), z.unknown()),
});

const historySchema = z.object({
  format: z.literal(HISTORY_FORMAT),
  version: z.literal(HISTORY_FORMAT_VERSION),
  workflowId: z.string().min(1),
  runId: z.string().min(1),
  events: z.array(eventSchema).min(1),
});

/**
 * Reads a history (a JSON string, or the parsed object) and checks it; throws `HistoryFormatError`
 * naming `source` and the bad field.
 *
 * @example
 * const history = parseHistory(readFileSync('histories/order-42.json', 'utf8'), 'order-42.json');
 */
export function parseHistory(input: unknown, source = 'history'): WorkflowHistory {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (error) {
      throw new HistoryFormatError(`${source} is not JSON: ${(error as Error).message}`);
    }
  }
  const parsed = historySchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    throw new HistoryFormatError(
      `${source} is not a Keel history (format '${HISTORY_FORMAT}', version ${HISTORY_FORMAT_VERSION}): ${path}: ${issue.message}.`,
    );
  }
  const history = parsed.data as unknown as WorkflowHistory;
  history.events.forEach((event, index) => {
    if (event.eventId !== index + 1) {
      throw new HistoryFormatError(
        `${source}: events[${index}] has eventId ${event.eventId}; ids must run 1, 2, 3, … without gaps.`,
      );
    }
  });
  if (history.events[0]!.eventType !== 'WorkflowExecutionStarted') {
    throw new HistoryFormatError(
      `${source}: the first event must be WorkflowExecutionStarted, not ${history.events[0]!.eventType}.`,
    );
  }
  return history;
}

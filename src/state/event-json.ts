/**
 * Events as JSON, serialised once: a step's events are copied for the worker (so that it sees what a
 * replay from the store would) and written to the store, and each of those would otherwise stringify
 * them again. Safe because an event is never changed once made.
 */
import type { HistoryEvent } from './events.ts';

const attributesJson = new WeakMap<object, string>();

/** The JSON of an event's attributes (the same object gives the same string, computed once). */
export function jsonOfAttributes(attributes: object): string {
  let json = attributesJson.get(attributes);
  if (json === undefined) {
    json = JSON.stringify(attributes);
    attributesJson.set(attributes, json);
  }
  return json;
}

/** Copies of `events`, as a read from the store gives them. */
export function copyEvents(events: readonly HistoryEvent[]): HistoryEvent[] {
  return events.map(
    (e) =>
      ({
        eventId: e.eventId,
        eventTime: e.eventTime,
        eventType: e.eventType,
        attributes: JSON.parse(jsonOfAttributes(e.attributes)) as unknown,
      }) as HistoryEvent,
  );
}

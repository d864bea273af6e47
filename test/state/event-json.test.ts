import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copyEvents, jsonOfAttributes } from '../../src/state/event-json.ts';
import type { HistoryEvent } from '../../src/state/events.ts';

const completed = (result: unknown): HistoryEvent =>
  ({
    eventId: 7,
    eventTime: 1_000,
    eventType: 'ActivityTaskCompleted',
    attributes: { result, scheduledEventId: 5, startedEventId: 6 },
  }) as HistoryEvent;

test('copies of events are what a read from the store gives: equal as JSON, sharing no object', () => {
  const result = { items: [1, 2], at: new Date(0), missing: undefined };
  const event = completed(result);
  const [copy] = copyEvents([event]);
  assert.deepEqual(copy, JSON.parse(JSON.stringify(event)));
  assert.notEqual(copy!.attributes, event.attributes);
  assert.notEqual((copy!.attributes as { result: unknown }).result, result);
  // A Date becomes its ISO string and undefined members go, as through the database.
  assert.deepEqual((copy!.attributes as { result: unknown }).result, {
    items: [1, 2],
    at: '1970-01-01T00:00:00.000Z',
  });
});

test('an event is serialised once, however often it is written and copied', () => {
  let serialised = 0;
  const result = {
    toJSON() {
      serialised++;
      return 'r';
    },
  };
  const event = completed(result);
  const json = jsonOfAttributes(event.attributes);
  assert.equal(jsonOfAttributes(event.attributes), json);
  copyEvents([event]);
  copyEvents([event]);
  assert.equal(serialised, 1);
  assert.equal(JSON.parse(json).result, 'r');
});

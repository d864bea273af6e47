/** Run ids: version 7 UUIDs that sort in the order one process made them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uuid7 } from '../../src/common/ids.ts';

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('ids made in the same millisecond sort in the order they were made, past 4,096 of them', () => {
  const ms = Date.UTC(2026, 0, 1);
  const ids = Array.from({ length: 10_000 }, () => uuid7(ms));
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids.slice(0, 3)) assert.match(id, UUID7);
  assert.equal(ids[0]!.replace(/-/g, '').slice(0, 12), ms.toString(16).padStart(12, '0'));
});

test('ids sort by time across milliseconds, and a clock set far back starts from its own time', () => {
  const ms = Date.UTC(2026, 0, 2);
  const later = uuid7(ms + 1);
  assert.ok(uuid7(ms + 2) > later);
  const past = uuid7(ms - 60_000);
  assert.equal(past.replace(/-/g, '').slice(0, 12), (ms - 60_000).toString(16).padStart(12, '0'));
});

/** Which NOTIFYs a commit's hints make, and who hears them: plain functions, no database. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  channelsFor,
  hintChannels,
  MAX_NOTIFY_PAYLOAD,
  notificationsOf,
  type HintAudience,
} from '../../src/store/postgres/notifications.ts';
import type { StoreHint } from '../../src/store/store.ts';

const channels = hintChannels('keel');
const heardOn = (hints: StoreHint[]) =>
  Object.fromEntries(
    notificationsOf(hints, channels, 'me').map(({ channel, payload }) => [
      channel,
      (JSON.parse(payload) as { origin: string; hints: StoreHint[] }).hints,
    ]),
  );

describe('PostgreSQL notifications', () => {
  test('hints of work and of runs go on their own channels; anything-changed on both', () => {
    const ready: StoreHint = { type: 'task-ready', kind: 'activity', taskQueue: 'q' };
    const due: StoreHint = { type: 'expiry', at: 5 };
    const closed: StoreHint = { type: 'run-closed', runId: 'r' };
    const updated: StoreHint = { type: 'run-updated', runId: 'r' };
    const answered: StoreHint = { type: 'query-answered', key: 'k' };
    const anything: StoreHint = { type: 'external-change' };
    assert.deepEqual(heardOn([ready, closed, due, updated, answered, anything]), {
      keel_hints_keel: [ready, due, anything],
      keel_runs_keel: [closed, updated, answered, anything],
    });
    assert.deepEqual(heardOn([closed]), { keel_runs_keel: [closed] });
    assert.deepEqual(heardOn([ready]), { keel_hints_keel: [ready] });
    assert.deepEqual(notificationsOf([], channels, 'me'), []);
  });

  test('a hint whose outcome does not fit goes without it; many hints take several payloads', () => {
    const outcome = (size: number) => ({
      status: 'Completed' as const,
      closing: {
        eventId: 2,
        eventTime: 1,
        eventType: 'WorkflowExecutionCompleted' as const,
        attributes: { result: 'x'.repeat(size), workflowTaskCompletedEventId: 1 },
      },
    });
    const ready: StoreHint = { type: 'task-ready', kind: 'workflow', taskQueue: 'q' };
    const big: StoreHint = { type: 'run-closed', runId: 'r', outcome: outcome(MAX_NOTIFY_PAYLOAD) };
    assert.deepEqual(heardOn([ready, big]), {
      keel_hints_keel: [ready],
      keel_runs_keel: [{ type: 'run-closed', runId: 'r' }],
    });
    // A hint that cannot fit at all says that anything may have changed, on its own channel.
    const huge: StoreHint = { type: 'task-ready', kind: 'workflow', taskQueue: 'q'.repeat(8000) };
    assert.deepEqual(heardOn([huge]), { keel_hints_keel: [{ type: 'external-change' }] });
    // 60 outcomes of 300 bytes: more than one payload holds, and none is dropped.
    const closed = Array.from({ length: 60 }, (_, i): StoreHint => ({
      type: 'run-closed',
      runId: `run-${i}`,
      outcome: outcome(300),
    }));
    const sent = notificationsOf([ready, ...closed], channels, 'me');
    const onRuns = sent.filter((n) => n.channel === 'keel_runs_keel');
    assert.ok(onRuns.length >= 3, `${onRuns.length} payloads`);
    for (const { payload } of sent) assert.ok(Buffer.byteLength(payload) < MAX_NOTIFY_PAYLOAD);
    const heard = onRuns.flatMap(
      ({ payload }) => (JSON.parse(payload) as { hints: StoreHint[] }).hints,
    );
    assert.deepEqual(heard, closed);
    assert.deepEqual(
      sent.filter((n) => n.channel === 'keel_hints_keel').map((n) => JSON.parse(n.payload)),
      [{ origin: 'me', hints: [ready] }],
    );
  });

  test('identical hints are sent once; characters beyond ASCII travel escaped', () => {
    const ready: StoreHint = { type: 'task-ready', kind: 'activity', taskQueue: 'q' };
    assert.deepEqual(heardOn([ready, ready, ready]), { keel_hints_keel: [ready] });
    const closed: StoreHint = {
      type: 'run-closed',
      runId: 'r',
      outcome: {
        status: 'Completed',
        closing: {
          eventId: 2,
          eventTime: 1,
          eventType: 'WorkflowExecutionCompleted',
          attributes: { result: 'café ☕ 😀', workflowTaskCompletedEventId: 1 },
        },
      },
    };
    const [sent] = notificationsOf([closed], channels, 'me');
    // One byte per character in any server encoding: the length PostgreSQL checks is the one counted.
    assert.match(sent!.payload, /^[\x20-\x7e]*$/);
    assert.deepEqual(JSON.parse(sent!.payload), { origin: 'me', hints: [closed] });
  });

  test('a process listens on the channels of its audience; an unknown audience is refused', () => {
    assert.deepEqual(channelsFor(channels, 'all'), ['keel_hints_keel', 'keel_runs_keel']);
    assert.deepEqual(channelsFor(channels, 'work'), ['keel_hints_keel']);
    assert.deepEqual(channelsFor(channels, 'runs'), ['keel_runs_keel']);
    assert.throws(
      () => channelsFor(channels, 'worker' as HintAudience),
      /Invalid hints option: "worker"; expected 'all', 'work'/,
    );
  });
});

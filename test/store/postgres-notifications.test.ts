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

  test('a payload too big drops the outcomes, then says anything changed, on its channel alone', () => {
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
    const many = Array.from({ length: 400 }, (_, i): StoreHint => ({
      type: 'run-closed',
      runId: `run-${i}`,
    }));
    assert.deepEqual(heardOn([ready, ...many]), {
      keel_hints_keel: [ready],
      keel_runs_keel: [{ type: 'external-change' }],
    });
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

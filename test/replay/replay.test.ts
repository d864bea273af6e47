/**
 * Replay of saved histories: the golden files of every engine version must replay against the
 * fixture workflows, a code change that diverges is reported with the event, and malformed files
 * get an error naming what is wrong.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DeterminismViolationError, proxyActivities } from 'keel/workflow';
import { HistoryFormatError, Worker } from 'keel/worker';
import * as workflows from '../fixtures/golden-workflows.ts';

const historiesDir = new URL('../fixtures/histories/', import.meta.url);
const goldenFiles = readdirSync(historiesDir).flatMap((version) =>
  readdirSync(new URL(`${version}/`, historiesDir)).map(
    (file) => new URL(`${version}/${file}`, historiesDir),
  ),
);
const read = (url: URL) => readFileSync(url, 'utf8');

test('every golden history (all versions) replays against the current code', async () => {
  assert.notEqual(goldenFiles.length, 0);
  const results = [];
  for await (const result of Worker.runReplayHistories({ workflows }, goldenFiles.map(read)))
    results.push(result);
  assert.deepEqual(
    results.filter((r) => r.error).map((r) => `${r.workflowId}: ${r.error?.message}`),
    [],
  );
  assert.equal(results.length, goldenFiles.length);
});

test('a diverging change is reported as a DeterminismViolationError naming the event', async () => {
  const counterFile = goldenFiles.find((url) => url.pathname.includes('v1/golden-counter-'))!;
  // The sleep replaced by an activity: the history's TimerStarted no longer matches.
  const { double } = proxyActivities<{ double(n: number): Promise<number> }>({
    startToCloseTimeout: '10s',
  });
  const changed = {
    ...workflows,
    async goldenCounter(count: number) {
      await double(count);
      return count;
    },
  };
  await assert.rejects(
    Worker.runReplayHistory({ workflows: changed }, read(counterFile)),
    (error: unknown) => {
      assert.ok(error instanceof DeterminismViolationError);
      assert.match(
        error.message,
        /history event 5 is TimerStarted \(timerId '1'\), but the workflow code now made ScheduleActivityTask \(activityType 'double', activityId '1'\)/,
      );
      return true;
    },
  );
  // The unchanged code replays the same file.
  await Worker.runReplayHistory({ workflows }, read(counterFile));
});

test('a history whose workflow type is not given is refused with the known types', async () => {
  const golden = read(new URL('v1/golden.json', historiesDir));
  await assert.rejects(
    Worker.runReplayHistory({ workflows: { other: workflows.goldenChild } }, golden),
    /workflow type 'golden' is not among the given workflows \(other\)/,
  );
});

test('malformed histories get an error that names what is wrong', async () => {
  const golden = JSON.parse(read(new URL('v1/golden.json', historiesDir))) as {
    events: { eventId: number; eventType: string }[];
  };
  const cases: [unknown, RegExp][] = [
    ['{ not json', /history is not JSON/],
    [{ ...golden, format: 'temporal' }, /format: Invalid input: expected "keel-history"/],
    [{ ...golden, version: 2 }, /version: Invalid input: expected 1/],
    [
      { ...golden, events: golden.events.slice(1) },
      /events\[0\] has eventId 2; ids must run 1, 2, 3/,
    ],
    [
      { ...golden, events: [{ ...golden.events[0], eventType: 'Bogus' }] },
      /events\.0\.eventType: Invalid option/,
    ],
    [{ ...golden, events: [] }, /events: Too small/],
  ];
  for (const [input, message] of cases) {
    await assert.rejects(Worker.runReplayHistory({ workflows }, input), (error: unknown) => {
      assert.ok(error instanceof HistoryFormatError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
});

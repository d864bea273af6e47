import assert from 'node:assert/strict';
import { test } from 'node:test';

import { UnitOfWork } from '../../src/engine/unit-of-work.ts';
import type { ExecutionState } from '../../src/state/execution-state.ts';
import type { StoreTransaction } from '../../src/store/store.ts';
import { Run, T0 } from '../state/harness.ts';

/** A transaction whose run is held by another one until `release()`, as PostgreSQL's NOWAIT sees it. */
function lockedThenFree(state: ExecutionState): { tx: StoreTransaction; release: () => void } {
  let held = true;
  const tx: Pick<StoreTransaction, 'tryGetExecution'> = {
    tryGetExecution: async () => (held ? 'locked' : structuredClone(state)),
  };
  return { tx: tx as StoreTransaction, release: () => void (held = false) };
}

test('a run found locked stays skipped for the rest of the transaction, even once it is free', async () => {
  // Two timers of one run due in one scan: the first is skipped because the run is busy; if the
  // lock went before the second, the second would fire first and the workflow would see them out
  // of order.
  const run = new Run();
  const { tx, release } = lockedThenFree(run.state);
  const uow = new UnitOfWork(tx, T0, 'test');
  assert.equal(await uow.tryLoad(run.state.runId), 'locked');
  release();
  assert.equal(await uow.tryLoad(run.state.runId), 'locked');
  // A new transaction sees it free.
  const next = new UnitOfWork(tx, T0, 'test');
  const loaded = await next.tryLoad(run.state.runId);
  assert.ok(loaded !== 'locked' && loaded !== undefined);
  assert.equal(loaded.state.runId, run.state.runId);
});

test("a transaction's time moves up to the start of a run it reads that started after it took the time", async () => {
  // A claim takes its time, then finds a run another process started since (its first workflow
  // task): the run's events, and a run it continues as, must not predate its start.
  const run = new Run();
  const tx: Pick<StoreTransaction, 'getExecution'> = {
    getExecution: async () => structuredClone(run.state),
  };
  const uow = new UnitOfWork(tx as StoreTransaction, run.state.startTime - 8, 'test');
  const m = await uow.load(run.state.runId);
  assert.equal(m?.now, run.state.startTime);
  assert.equal(uow.now, run.state.startTime);
  // A run that started before the transaction's time leaves it as it was.
  const later = new UnitOfWork(tx as StoreTransaction, run.state.startTime + 5, 'test');
  assert.equal((await later.load(run.state.runId))?.now, run.state.startTime + 5);
  assert.equal(later.now, run.state.startTime + 5);
});

test("a transaction's time moves up to the latest event of a run it reads, so that a run's history never goes back in time", async () => {
  // A signal took its time, then waited for the run's lock while a workflow task started and
  // completed (or a process whose clock runs ahead wrote them): its event must not come before
  // theirs, nor the workflow time of the task it schedules.
  const run = new Run();
  run.runWorkflowTask([], 30);
  const latest = run.history.at(-1)!.eventTime;
  assert.equal(latest, T0 + 30);
  assert.equal(run.state.lastEventTime, latest);
  const reading = (state: ExecutionState) =>
    ({
      getExecution: async () => structuredClone(state),
    }) as Partial<StoreTransaction> as StoreTransaction;
  const uow = new UnitOfWork(reading(run.state), T0 + 10, 'test');
  const m = (await uow.load(run.state.runId))!;
  assert.equal(m.now, latest);
  assert.equal(uow.now, latest);
  m.append('WorkflowExecutionSignaled', { signalName: 'go', input: [] });
  assert.equal(m.events.at(-1)!.eventTime, latest);
  // A state written before the latest event's time was kept falls back to the run's start.
  const older = { ...run.state };
  delete older.lastEventTime;
  const fromOlder = new UnitOfWork(reading(older), T0 - 5, 'test');
  assert.equal((await fromOlder.load(run.state.runId))?.now, T0);
});

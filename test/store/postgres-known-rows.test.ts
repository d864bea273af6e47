/** What a process remembers of the rows it wrote last: a plain class, no database. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KnownRows } from '../../src/store/postgres/known-rows.ts';
import { PendingWrites } from '../../src/store/postgres/pending-writes.ts';
import { activityTask, execution, workflowTask } from './records.ts';

/** What committing these writes teaches the process. */
function learnt(known: KnownRows, ...writes: ((w: PendingWrites) => void)[]): void {
  known.learn(
    writes.map((write) => {
      const pending = new PendingWrites();
      write(pending);
      return pending.rowsWritten();
    }),
  );
}

/** The writes of run-n's state and its workflow task. */
const write = (n: number) => (w: PendingWrites) => {
  w.updateExecution(execution({ runId: `run-${n}` }));
  w.applyTaskChanges([{ op: 'put', task: workflowTask(`run-${n}`) }]);
};

describe('rows this process wrote last', () => {
  test('a run and a task written together are known as written, the state as its JSON', () => {
    const known = new KnownRows();
    const run = execution({ runId: 'r1', nextEventId: 4 });
    const task = activityTask('r1', 3, { state: 'claimed', claimToken: 7, expiresAt: 9_000 });
    learnt(known, (w) => {
      w.updateExecution(run);
      w.applyTaskChanges([{ op: 'put', task }]);
    });
    const found = known.lookup('r1', task.key);
    assert.ok(found);
    assert.equal(found.state, JSON.stringify(run));
    assert.equal(found.task.claim_token, 7);
    assert.equal(found.task.expires_at, 9_000);
    assert.deepEqual(JSON.parse(found.task.data), task.data);
    assert.equal(known.lookup('r1', 'r1/activity/99'), undefined, 'a task it did not write');
  });

  test("a task of a run whose state it did not write is not known: the run's state may be anyone's", () => {
    const known = new KnownRows();
    const task = activityTask('r2', 3, { state: 'claimed', claimToken: 1 });
    learnt(known, (w) => w.applyTaskChanges([{ op: 'put', task }]));
    assert.equal(known.lookup('r2', task.key), undefined);
  });

  test('later writes replace earlier ones; deleted tasks, closed runs and forgotten runs are gone', () => {
    const known = new KnownRows();
    const first = activityTask('r3', 3, { state: 'claimed', claimToken: 1 });
    const second = activityTask('r3', 5, { state: 'claimed', claimToken: 2 });
    learnt(
      known,
      (w) => {
        w.updateExecution(execution({ runId: 'r3', nextEventId: 4 }));
        w.applyTaskChanges([{ op: 'put', task: first }]);
      },
      (w) => {
        w.updateExecution(execution({ runId: 'r3', nextEventId: 6 }));
        w.applyTaskChanges([
          { op: 'delete', key: first.key },
          { op: 'put', task: second },
        ]);
      },
    );
    assert.equal(known.lookup('r3', first.key), undefined);
    assert.equal(JSON.parse(known.lookup('r3', second.key)!.state).nextEventId, 6);

    learnt(known, (w) => {
      w.applyTaskChanges([
        { op: 'delete-run', runId: 'r3' },
        { op: 'put', task: first },
      ]);
    });
    assert.equal(known.lookup('r3', second.key), undefined, "the run's tasks all went");
    assert.ok(known.lookup('r3', first.key), 'a task put after them stays');

    known.forget(['r3']);
    assert.equal(known.lookup('r3', first.key), undefined);

    const task = workflowTask('r4', { state: 'claimed', claimToken: 1 });
    learnt(known, (w) => {
      w.insertExecution(execution({ runId: 'r4' }));
      w.applyTaskChanges([{ op: 'put', task }]);
    });
    assert.ok(known.lookup('r4', task.key));
    learnt(known, (w) => w.updateExecution(execution({ runId: 'r4', status: 'Completed' })));
    assert.equal(known.lookup('r4', task.key), undefined, 'a closed run is not kept');
    assert.equal(known.size, 0);
    assert.equal(known.totalCharacters, 0, 'the count follows what is kept');
  });

  test('a write to a task alone makes its run the most recently written', () => {
    const known = new KnownRows();
    learnt(known, ...Array.from({ length: 10_000 }, (_, n) => write(n)));
    learnt(known, (w) =>
      w.applyTaskChanges([{ op: 'put', task: workflowTask('run-0', { claimToken: 2 }) }]),
    );
    learnt(known, write(10_000));
    assert.equal(known.lookup('run-0', 'run-0/workflow')?.task.claim_token, 2);
    assert.equal(known.lookup('run-1', 'run-1/workflow'), undefined);
  });

  test('it keeps the 10,000 runs written most recently', () => {
    const known = new KnownRows();
    learnt(known, ...Array.from({ length: 10_000 }, (_, n) => write(n)));
    learnt(known, write(0), write(10_000)); // run-0 written again: now among the most recent
    assert.equal(known.size, 10_000);
    assert.ok(known.lookup('run-0', 'run-0/workflow'));
    assert.equal(known.lookup('run-1', 'run-1/workflow'), undefined, 'the least recent went');
    assert.ok(known.lookup('run-10000', 'run-10000/workflow'));
  });

  test('it keeps no more than 16 Mi characters of state and task data', () => {
    const known = new KnownRows();
    const big = (n: number) => (w: PendingWrites) => {
      w.updateExecution(execution({ runId: `big-${n}`, memo: { text: 'x'.repeat(6_000_000) } }));
      w.applyTaskChanges([{ op: 'put', task: workflowTask(`big-${n}`) }]);
    };
    learnt(known, big(1), big(2));
    assert.equal(known.size, 2);
    assert.ok(known.totalCharacters > 12_000_000);
    learnt(known, big(3));
    assert.equal(known.size, 2);
    assert.equal(known.lookup('big-1', 'big-1/workflow'), undefined, 'the least recent went');
    assert.ok(known.totalCharacters <= 16 * 1024 * 1024);
    known.forget(['big-2', 'big-3']);
    assert.equal(known.totalCharacters, 0, 'the count follows what is kept');
  });
});

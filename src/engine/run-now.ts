/**
 * Workflow tasks run inside the transaction that claimed them. A worker completing an activity (or
 * claiming a run's first task) usually has everything the next workflow task needs: the run's code
 * in its cache, current, and the new events in hand. It may then run the task at once, while the
 * transaction is open, and the same transaction records the task's completion: one commit for the
 * activity's result and the workflow's next step, where there were two. The history is the same
 * either way; only the number of transactions changes.
 */
import type { FailureInfo } from '../common/failure-converter.ts';
import { copyEvents } from '../state/event-json.ts';
import type { Command } from '../state/commands.ts';
import type { WorkflowTaskFailedCause } from '../state/events.ts';
import type { StickyQueue } from '../state/execution-state.ts';
import type { Mutation } from '../state/mutation.ts';
import type { EagerActivities, WorkflowTaskOutcome } from './engine.ts';
import type { WorkflowTaskGrant } from './grants.ts';

/** A workflow task the worker ran at once; the engine completes it in the same transaction. */
export interface TaskRanNow {
  /** The commands the code made, or why the task failed (recorded as any failed workflow task is). */
  result: { commands: Command[] } | { cause: WorkflowTaskFailedCause; failure: FailureInfo };
  /** Slots for activities the commands schedule, taken in the same transaction (eager dispatch). */
  eager?: EagerActivities;
  sticky?: StickyQueue;
  /**
   * Called once the transaction settled: with the completion's outcome if it committed, with
   * undefined if it did not (the task was never recorded, and the worker's copy ran ahead of the
   * history).
   */
  settle(outcome: WorkflowTaskOutcome | undefined): void;
}

/**
 * Runs a just-claimed workflow task if the worker can without waiting for anything or reading the
 * history; undefined leaves the task to run after the commit, as usual.
 */
export type RunNow = (grant: WorkflowTaskGrant) => Promise<TaskRanNow | undefined>;

/** A task run now, recorded as soon as it ran (so that it is settled whatever happens next). */
export interface Ran {
  task: TaskRanNow;
  run: Mutation;
  /** The task's WorkflowTaskStarted id: the worker's copy has seen the events up to it. */
  startedEventId: number;
  /** Set once the transaction recorded the task. */
  outcome?: WorkflowTaskOutcome;
}

/**
 * The tasks run now during one engine operation. A store may run a transaction's work more than
 * once (PostgreSQL re-runs each unit of a failed batch alone): only the tasks of the invocation that
 * committed count, and the others are told they did not.
 */
export class TasksRanNow {
  private readonly invocations: Ran[][] = [];

  /** Called at the start of each invocation of the transaction's work. */
  begin(): Ran[] {
    const ran: Ran[] = [];
    this.invocations.push(ran);
    return ran;
  }

  /** After the transaction: `committed` says whether the last invocation's writes were committed. */
  settle(committed: boolean): void {
    const last = committed ? this.invocations.at(-1) : undefined;
    for (const ran of this.invocations) {
      for (const { task, run, outcome, startedEventId } of ran) {
        if (ran !== last || !outcome) task.settle(undefined);
        else if (!outcome.accepted) task.settle(outcome);
        else {
          // Read after the transaction: effects on other runs may have recorded more on this one.
          const after = run.events.filter((e) => e.eventId > startedEventId);
          task.settle({ ...outcome, recorded: copyEvents(after) });
        }
      }
    }
  }
}

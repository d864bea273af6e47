/**
 * The replay runner driven by the pure state transitions, as the engine and worker do, but with no
 * store: the history a worker is given is the run's history plus the claim's transient events.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { proxyActivities, sleep } from 'keel/workflow';
import { encodeFailure } from '../../src/common/failure-converter.ts';
import type { WorkflowFunction } from '../../src/runtime/activator.ts';
import { installWorkflowGuards } from '../../src/runtime/global-guards.ts';
import { WorkflowRunner } from '../../src/runtime/workflow-runner.ts';
import { completeActivityTask } from '../../src/state/activity-task.ts';
import { BadCommandError } from '../../src/state/commands-apply.ts';
import type { Command } from '../../src/state/commands.ts';
import { fireTimer, requestCancelWorkflow } from '../../src/state/execution.ts';
import { Mutation } from '../../src/state/mutation.ts';
import { completeWorkflowTask, failWorkflowTask } from '../../src/state/workflow-task.ts';
import { Run, T0 } from '../state/harness.ts';
import { silentLogger } from './history.ts';

installWorkflowGuards();

const acts = proxyActivities<{ greet(name: string): Promise<string> }>({
  startToCloseTimeout: '10s',
});

/** A worker with a one-run cache, as `WorkflowTaskExecutor` has. */
class Worker {
  private runner?: WorkflowRunner;
  constructor(
    private readonly run: Run,
    private readonly workflow: WorkflowFunction,
  ) {}

  /** Claims and runs the outstanding workflow task; completes it, or fails it as the worker would. */
  async workflowTask(
    options: { advance?: number; completeAfter?: number; whileHeld?: () => void } = {},
  ): Promise<{ commands?: Command[]; outcome: string }> {
    const { run } = this;
    const { advance = 0, completeAfter = 0 } = options;
    const { claim, start } = run.claimWorkflowTask('worker', advance);
    if (this.runner && this.runner.lastStartedEventId !== start.previousStartedEventId)
      this.runner = undefined;
    const history = [...run.history, ...start.transientEvents];
    options.whileHeld?.();
    this.runner ??= new WorkflowRunner(
      this.workflow,
      WorkflowRunner.infoFrom(history[0]!, run.state.runId),
      silentLogger,
    );
    let commands: Command[];
    try {
      commands = await this.runner.runTask({ startedEventId: start.startedEventId, history });
    } catch (error) {
      this.runner = undefined;
      run.step((m) =>
        failWorkflowTask(
          m,
          run.workflowTaskRow,
          claim,
          'WorkflowWorkerUnhandledFailure',
          encodeFailure(error),
          'worker',
        ),
      );
      return { outcome: 'failed' };
    }
    const probe = new Mutation(structuredClone(run.state), run.now + completeAfter);
    try {
      completeWorkflowTask(probe, run.workflowTaskRow, claim, commands, 'worker', [], run.tasks);
    } catch (error) {
      if (!(error instanceof BadCommandError)) throw error;
      this.runner = undefined;
      run.step(
        (m) =>
          failWorkflowTask(
            m,
            run.workflowTaskRow,
            claim,
            'BadCommand',
            { message: error.message },
            'worker',
          ),
        completeAfter,
      );
      return { commands, outcome: `bad command: ${error.message}` };
    }
    run.completeWorkflowTask(claim, commands, completeAfter);
    return { commands, outcome: 'completed' };
  }
}

describe('runner and state machine together', () => {
  test('a workflow runs to completion: activity, timer, result', async () => {
    const run = new Run({ input: ['n'] });
    const worker = new Worker(run, async (name: string) => {
      const greeting = await acts.greet(name);
      await sleep(1000);
      return greeting.toUpperCase();
    });
    assert.equal((await worker.workflowTask()).outcome, 'completed');
    const claim = run.claimActivity('1');
    assert.deepEqual(run.activityRow('1')?.data.input, ['n']);
    run.step((m) => completeActivityTask(m, run.activityRow('1'), claim, 'hello n', 'aw'));
    assert.equal((await worker.workflowTask()).outcome, 'completed');
    run.step((m) => fireTimer(m, run.timerRow('1')), 1000);
    const last = await worker.workflowTask();
    assert.deepEqual(last.commands, [
      { commandType: 'CompleteWorkflowExecution', attributes: { result: 'HELLO N' } },
    ]);
    assert.equal(run.state.status, 'Completed');
  });

  test('Date.now() in workflow code is the same on the first run and on replay', {}, async () => {
    const workflow = async () => {
      const startedAt = Date.now();
      await sleep(1000);
      return startedAt;
    };
    const run = new Run();
    const worker = new Worker(run, workflow);
    await worker.workflowTask({ advance: 100, completeAfter: 700 }); // claimed at T0+100, completed at T0+800
    run.step((m) => fireTimer(m, run.timerRow('1')), 1000);
    const live = await worker.workflowTask();
    assert.deepEqual(live.commands, [
      { commandType: 'CompleteWorkflowExecution', attributes: { result: T0 + 100 } },
    ]);
    // Another worker (or this one after a restart) replays the same history.
    const replayRun = new Run();
    const replayer = new Worker(replayRun, workflow);
    await replayer.workflowTask({ advance: 100, completeAfter: 700 });
    replayRun.step((m) => fireTimer(m, replayRun.timerRow('1')), 1000);
    const fresh = new Worker(replayRun, workflow);
    const replayed = await fresh.workflowTask();
    assert.deepEqual(replayed.commands, live.commands);
  });

  test(
    'an activity that completes while the cancel-handling task runs does not wedge the run',
    {},
    async () => {
      const run = new Run({ input: ['n'] });
      const worker = new Worker(run, async (name: string) => acts.greet(name));
      await worker.workflowTask();
      const claim = run.claimActivity('1');
      run.step((m) => requestCancelWorkflow(m));
      // The worker claims the cancel task; the activity finishes before the worker answers.
      const outcomes = [
        (
          await worker.workflowTask({
            whileHeld: () =>
              run.step((m) => completeActivityTask(m, run.activityRow('1'), claim, 'hello', 'aw')),
          })
        ).outcome,
      ];
      assert.equal(run.eventsOf('ActivityTaskCompleted').length, 1);
      // The retries see the completion, yet make the same cancel request.
      for (let attempt = 0; attempt < 3 && run.state.status === 'Running'; attempt++) {
        run.readyWorkflowTask();
        outcomes.push((await worker.workflowTask()).outcome);
      }
      assert.notEqual(run.state.status, 'Running', `attempts: ${outcomes.join(' | ')}`);
    },
  );
  test(
    'a timer that fires while the cancel-handling task runs does not wedge the run',
    {},
    async () => {
      const run = new Run();
      const worker = new Worker(run, async () => sleep(1000));
      await worker.workflowTask();
      run.step((m) => requestCancelWorkflow(m), 999);
      const outcomes = [
        (
          await worker.workflowTask({
            whileHeld: () => run.step((m) => fireTimer(m, run.timerRow('1')), 1),
          })
        ).outcome,
      ];
      assert.equal(run.eventsOf('TimerFired').length, 1);
      for (let attempt = 0; attempt < 3 && run.state.status === 'Running'; attempt++) {
        run.readyWorkflowTask();
        outcomes.push((await worker.workflowTask()).outcome);
      }
      assert.notEqual(run.state.status, 'Running', `attempts: ${outcomes.join(' | ')}`);
    },
  );
});

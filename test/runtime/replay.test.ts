import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  DeterminismViolationError,
  TimeoutFailure,
  isCancellation,
  log,
  proxyActivities,
  sleep,
  workflowInfo,
} from 'keel/workflow';
import { compileRetryPolicy } from '../../src/common/retry-policy.ts';
import { IllegalStateError } from '../../src/common/errors.ts';
import { WorkflowRunner } from '../../src/runtime/workflow-runner.ts';
import { HistoryBuilder, START_TIME, commandTypes, newRunner, replay, runTask } from './history.ts';

interface Activities {
  greet(name: string): Promise<string>;
  charge(amount: number): Promise<string>;
  cleanup(what: string): Promise<void>;
}

const acts = proxyActivities<Activities>({ startToCloseTimeout: '10s' });
const waiting = proxyActivities<Activities>({
  startToCloseTimeout: '10s',
  cancellationType: 'WAIT_CANCELLATION_COMPLETED',
});

/** greet, sleep a minute, greet again. */
async function greetTwice(name: string): Promise<string> {
  const first = await acts.greet(name);
  await sleep('1 minute');
  return acts.greet(first);
}

/** The history of a completed greetTwice('n'), with the tasks' Started ids. */
function greetTwiceHistory() {
  const h = new HistoryBuilder({ workflowType: 'greetTwice', input: ['n'] });
  const task1 = h.task();
  const prefix1 = h.snapshot();
  h.completed();
  const a1 = h.activityScheduled('1', 'greet', ['n']);
  h.at(START_TIME + 1000).activityCompleted(a1, 'hello n');
  const task2 = h.task();
  const prefix2 = h.snapshot();
  h.completed();
  const t1 = h.timerStarted('1', 60_000);
  h.at(START_TIME + 61_000).timerFired('1', t1);
  const task3 = h.task();
  const prefix3 = h.snapshot();
  h.completed();
  const a2 = h.activityScheduled('2', 'greet', ['hello n']);
  h.at(START_TIME + 62_000).activityCompleted(a2, 'hello hello n');
  const task4 = h.task();
  return {
    h,
    prefixes: [prefix1, prefix2, prefix3, h.snapshot()],
    tasks: [task1, task2, task3, task4],
  };
}

describe('first activation and replay', () => {
  test('the first activation schedules the first activity with the compiled options', async () => {
    const { prefixes } = greetTwiceHistory();
    const commands = await replay(greetTwice, prefixes[0]!);
    assert.deepEqual(commands, [
      {
        commandType: 'ScheduleActivityTask',
        attributes: {
          activityId: '1',
          activityType: 'greet',
          taskQueue: 'main',
          input: ['n'],
          startToCloseTimeout: 10_000,
          retryPolicy: compileRetryPolicy(),
        },
      },
    ]);
  });

  test('a fresh runner replaying each prefix makes the next commands, with results from the events', async () => {
    const { prefixes } = greetTwiceHistory();
    assert.deepEqual(await replay(greetTwice, prefixes[1]!), [
      { commandType: 'StartTimer', attributes: { timerId: '1', startToFireTimeout: 60_000 } },
    ]);
    const third = await replay(greetTwice, prefixes[2]!);
    assert.equal(third.length, 1);
    assert.equal(third[0]!.commandType, 'ScheduleActivityTask');
    assert.deepEqual((third[0]!.attributes as { input: unknown[] }).input, ['hello n']);
    assert.deepEqual(await replay(greetTwice, prefixes[3]!), [
      { commandType: 'CompleteWorkflowExecution', attributes: { result: 'hello hello n' } },
    ]);
  });

  test('a cached runner fed task by task makes the same commands as full replays', async () => {
    const { prefixes, tasks } = greetTwiceHistory();
    const runner = newRunner(greetTwice, prefixes[0]!);
    const cached = [];
    for (const [i, prefix] of prefixes.entries()) {
      cached.push(await runTask(runner, prefix));
      assert.equal(runner.lastStartedEventId, tasks[i]);
      assert.equal(runner.lastEventId, tasks[i]);
    }
    const replayed = [];
    for (const prefix of prefixes) replayed.push(await replay(greetTwice, prefix));
    assert.deepEqual(cached, replayed);
    assert.equal(runner.activator.completed, true);
  });

  test('a cached runner is given only the new events', async () => {
    const { prefixes } = greetTwiceHistory();
    const runner = newRunner(greetTwice, prefixes[0]!);
    await runTask(runner, prefixes[0]!);
    const tail = prefixes[1]!.filter((e) => e.eventId > runner.lastEventId);
    assert.equal(tail[0]!.eventId, 4);
    assert.deepEqual(commandTypes(await runTask(runner, tail)), ['StartTimer']);
  });

  test('a failed task attempt leaves its jobs to the next attempt', async () => {
    const h = new HistoryBuilder({ input: ['n'] });
    h.task();
    h.completed();
    const a1 = h.activityScheduled('1', 'greet', ['n']);
    h.activityCompleted(a1, 'hello n');
    h.task();
    h.failed();
    h.task();
    assert.deepEqual(commandTypes(await replay(greetTwice, h.snapshot())), ['StartTimer']);
  });

  test('a history that does not start with WorkflowExecutionStarted, or lacks the task, is refused', async () => {
    const { prefixes } = greetTwiceHistory();
    assert.throws(
      () => WorkflowRunner.infoFrom(prefixes[0]![1]!, 'run-x'),
      (e: unknown) =>
        e instanceof DeterminismViolationError &&
        /event 1 is WorkflowTaskScheduled/.test(e.message),
    );
    const runner = newRunner(greetTwice, prefixes[0]!);
    await assert.rejects(
      runner.runTask({ startedEventId: 9, history: prefixes[0]! }),
      (e: unknown) =>
        e instanceof DeterminismViolationError &&
        /ends at event 3 without the workflow task's WorkflowTaskStarted event 9/.test(e.message),
    );
  });
});

describe('determinism checks', () => {
  const { prefixes } = greetTwiceHistory();
  const history = prefixes[1]!; // task 1 scheduled greet '1' (event 5); task 2 starts at event 9

  async function violation(workflow: (name: string) => Promise<unknown>, events = history) {
    const error = await replay(workflow, events).then(
      () => assert.fail('expected a DeterminismViolationError'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof DeterminismViolationError, `got ${String(error)}`);
    assert.match(error.message, /^Nondeterminism in workflow 'wf-1' \(type \w+, run run-1\)/);
    return error.message;
  }

  test('an activity of another type', async () => {
    const message = await violation(async () => acts.charge(1));
    assert.match(
      message,
      /history event 5 is ActivityTaskScheduled \(activityType 'greet', activityId '1'\), but the workflow code now made ScheduleActivityTask \(activityType 'charge', activityId '1'\)/,
    );
  });

  test('a timer where the history has an activity', async () => {
    const message = await violation(async () => sleep(1000));
    assert.match(
      message,
      /history event 5 is ActivityTaskScheduled \(activityType 'greet', activityId '1'\), but the workflow code now made StartTimer \(timerId '1'\)/,
    );
  });

  test('an activity with another id', async () => {
    const fixed = proxyActivities<Activities>({
      startToCloseTimeout: '10s',
      activityId: 'greeting',
    });
    const message = await violation(async (name) => fixed.greet(name));
    assert.match(message, /activityId 'greeting'/);
  });

  test('an extra command', async () => {
    const message = await violation(async (name) => Promise.all([acts.greet(name), sleep(5000)]));
    assert.match(
      message,
      /the workflow code made StartTimer \(timerId '1'\) in the workflow task completed at event 4, but the history has no such event \(event 9 is WorkflowTaskStarted\)/,
    );
  });

  test('a missing command', async () => {
    const h = new HistoryBuilder({ input: ['n'] });
    h.task();
    h.completed();
    h.activityScheduled('1', 'greet', ['n']);
    h.timerStarted('1', 5000);
    h.task();
    const message = await violation(async (name) => acts.greet(name), h.snapshot());
    assert.match(
      message,
      /history event 6 is TimerStarted \(timerId '1'\), but the workflow code made no matching command/,
    );
  });

  test('no command at all where the history has one', async () => {
    const message = await violation(async () => new Promise(() => undefined));
    assert.match(message, /history event 5 is ActivityTaskScheduled .* made no matching command/);
  });

  test('a cached runner checks its last commands against the events of the next task', async () => {
    const runner = newRunner(greetTwice, prefixes[0]!);
    await runTask(runner, prefixes[0]!);
    // The history says the task made a timer (another worker's code completed it).
    const h = new HistoryBuilder({ input: ['n'] });
    h.task();
    h.completed();
    h.timerStarted('1', 1000);
    h.task();
    await assert.rejects(
      runTask(runner, h.snapshot()),
      (e: unknown) =>
        e instanceof DeterminismViolationError &&
        /event 5 is TimerStarted \(timerId '1'\), but the workflow code now made ScheduleActivityTask \(activityType 'greet'/.test(
          e.message,
        ),
    );
  });
});

describe('workflow outcomes', () => {
  test('an ApplicationFailure thrown by the workflow fails the run', async () => {
    const h = new HistoryBuilder();
    h.task();
    const commands = await replay(async () => {
      throw ApplicationFailure.nonRetryable('bad input', 'BadInput', { field: 'x' });
    }, h.snapshot());
    assert.equal(commands.length, 1);
    const [command] = commands;
    assert.equal(command!.commandType, 'FailWorkflowExecution');
    const failure = (command!.attributes as { failure: Record<string, any> }).failure;
    assert.equal(failure.message, 'bad input');
    assert.deepEqual(failure.applicationFailureInfo, {
      type: 'BadInput',
      nonRetryable: true,
      details: [{ field: 'x' }],
    });
    assert.match(failure.stackTrace, /bad input/);
  });

  test('a plain Error fails the workflow task: runTask rejects and no command is sent', async () => {
    const h = new HistoryBuilder();
    h.task();
    const runner = newRunner(async () => {
      throw new TypeError('undefined is not a function');
    }, h.snapshot());
    await assert.rejects(runTask(runner, h.snapshot()), {
      name: 'TypeError',
      message: 'undefined is not a function',
    });
    assert.equal(runner.activator.completed, false);
  });

  test('a non-Error thrown value also fails the task', async () => {
    const h = new HistoryBuilder();
    h.task();
    await assert.rejects(
      replay(() => Promise.reject('just a string'), h.snapshot()),
      (e: unknown) => e instanceof Error && e.message === 'just a string',
    );
  });

  test('a synchronous throw from the workflow function behaves like a rejection', async () => {
    const h = new HistoryBuilder();
    h.task();
    const commands = await replay(
      ((): Promise<never> => {
        throw ApplicationFailure.retryable('sync', 'Sync');
      }) as () => Promise<unknown>,
      h.snapshot(),
    );
    assert.deepEqual(commandTypes(commands), ['FailWorkflowExecution']);
  });

  test('an activity failure reaches the workflow as ActivityFailure with its cause', async () => {
    const h = new HistoryBuilder({ input: ['n'] });
    h.task();
    h.completed();
    const a1 = h.activityScheduled('1', 'greet', ['n']);
    h.activityFailed(a1, {
      message: 'card declined',
      stackTrace: 'at charge (activities.ts:1)',
      applicationFailureInfo: { type: 'CardDeclined', nonRetryable: true, details: ['4242'] },
    });
    h.task();
    const seen: unknown[] = [];
    const commands = await replay(async (name: string) => {
      try {
        return await acts.greet(name);
      } catch (error) {
        seen.push(error);
        throw error;
      }
    }, h.snapshot());
    const error = seen[0];
    assert.ok(error instanceof ActivityFailure);
    assert.equal(error.activityType, 'greet');
    assert.equal(error.activityId, '1');
    assert.equal(error.retryState, 'MAXIMUM_ATTEMPTS_REACHED');
    assert.ok(error.cause instanceof ApplicationFailure);
    assert.equal(error.cause.type, 'CardDeclined');
    assert.deepEqual(error.cause.details, ['4242']);
    assert.equal(error.cause.stack, 'at charge (activities.ts:1)');
    // Not caught: the run fails with the whole chain.
    assert.deepEqual(commandTypes(commands), ['FailWorkflowExecution']);
    const failure = (commands[0]!.attributes as { failure: Record<string, any> }).failure;
    assert.equal(failure.activityFailureInfo.activityType, 'greet');
    assert.equal(failure.cause.applicationFailureInfo.type, 'CardDeclined');
  });

  test('an activity timeout reaches the workflow as ActivityFailure caused by TimeoutFailure', async () => {
    const h = new HistoryBuilder({ input: ['n'] });
    h.task();
    h.completed();
    const a1 = h.activityScheduled('1', 'greet', ['n']);
    h.activityTimedOut(a1, {
      message: 'activity HEARTBEAT timeout',
      timeoutFailureInfo: { timeoutType: 'HEARTBEAT', lastHeartbeatDetails: { page: 3 } },
    });
    h.task();
    const commands = await replay(async (name: string) => {
      try {
        await acts.greet(name);
        return 'no';
      } catch (error) {
        if (!(error instanceof ActivityFailure) || !(error.cause instanceof TimeoutFailure))
          return 'wrong type';
        return [error.message, error.cause.timeoutType, error.cause.lastHeartbeatDetails];
      }
    }, h.snapshot());
    assert.deepEqual(commands, [
      {
        commandType: 'CompleteWorkflowExecution',
        attributes: { result: ['Activity task timed out', 'HEARTBEAT', { page: 3 }] },
      },
    ]);
  });

  test('an undefined result completes without a result attribute', async () => {
    const h = new HistoryBuilder();
    h.task();
    assert.deepEqual(await replay(async () => undefined, h.snapshot()), [
      { commandType: 'CompleteWorkflowExecution', attributes: {} },
    ]);
  });

  test('nothing is sent after the closing command', async () => {
    const h = new HistoryBuilder();
    h.task();
    const commands = await replay(async () => {
      void acts.greet('late').catch(() => undefined);
      await Promise.resolve();
      return 'done';
    }, h.snapshot());
    assert.deepEqual(commandTypes(commands), ['ScheduleActivityTask', 'CompleteWorkflowExecution']);
    let late: Promise<unknown> | undefined;
    const runner = newRunner(async () => {
      void (async () => {
        for (let i = 0; i < 10; i++) await Promise.resolve();
        late = acts.greet('after');
      })();
      return 1;
    }, h.snapshot());
    assert.deepEqual(commandTypes(await runTask(runner, h.snapshot())), [
      'CompleteWorkflowExecution',
    ]);
    assert.ok(late, 'the late call was made');
    assert.deepEqual(runner.activator.commands, []);
  });

  test('an argument that cannot be stored rejects the activity call with PayloadError', async () => {
    const h = new HistoryBuilder();
    h.task();
    const commands = await replay(async () => {
      try {
        await acts.charge(10n as unknown as number);
        return 'sent';
      } catch (error) {
        return (error as Error).name + ': ' + (error as Error).message;
      }
    }, h.snapshot());
    assert.deepEqual(commands, [
      {
        commandType: 'CompleteWorkflowExecution',
        attributes: {
          result:
            "PayloadError: Cannot serialise the arguments of activity 'charge': '[0]' is a BigInt; pass it as a string.",
        },
      },
    ]);
  });

  test('a command made after the activation ended (real I/O awaited) fails the next task', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const h = new HistoryBuilder();
    h.task();
    const runner = newRunner(async () => {
      await gate;
      return acts.greet('late');
    }, h.snapshot());
    assert.deepEqual(await runTask(runner, h.snapshot()), []);
    open();
    await gate;
    await Promise.resolve();
    h.completed();
    h.cancelRequested();
    h.task();
    await assert.rejects(
      runTask(runner, h.snapshot()),
      (e: unknown) =>
        e instanceof IllegalStateError &&
        /made a ScheduleActivityTask command outside a workflow task/.test(e.message),
    );
  });
});

describe('cancellation', () => {
  test('a cancel request cancels a pending timer; the CancelledFailure cancels the run', async () => {
    const h = new HistoryBuilder();
    h.task();
    h.completed();
    h.timerStarted('1', 3_600_000);
    h.cancelRequested();
    h.task();
    const commands = await replay(async () => sleep('1 hour'), h.snapshot());
    assert.deepEqual(commands, [
      { commandType: 'CancelTimer', attributes: { timerId: '1' } },
      { commandType: 'CancelWorkflowExecution', attributes: {} },
    ]);
  });

  test('a cancel request cancels a pending activity (TRY_CANCEL: the call rejects at once)', async () => {
    const h = new HistoryBuilder({ input: ['n'] });
    h.task();
    h.completed();
    h.activityScheduled('1', 'greet', ['n']);
    h.cancelRequested();
    h.task();
    const errors: unknown[] = [];
    const commands = await replay(async (name: string) => {
      try {
        return await acts.greet(name);
      } catch (error) {
        errors.push(error);
        throw error;
      }
    }, h.snapshot());
    assert.deepEqual(commands, [
      { commandType: 'RequestCancelActivityTask', attributes: { activityId: '1' } },
      { commandType: 'CancelWorkflowExecution', attributes: {} },
    ]);
    assert.ok(isCancellation(errors[0]));
    assert.ok(errors[0] instanceof ActivityFailure);
  });

  test('WAIT_CANCELLATION_COMPLETED waits for ActivityTaskCanceled before the call rejects', async () => {
    const h = new HistoryBuilder({ input: ['n'] });
    h.task();
    h.completed();
    const a1 = h.activityScheduled('1', 'greet', ['n']);
    h.cancelRequested();
    h.task();
    const workflow = async (name: string) => waiting.greet(name);
    assert.deepEqual(await replay(workflow, h.snapshot()), [
      { commandType: 'RequestCancelActivityTask', attributes: { activityId: '1' } },
    ]);
    h.completed();
    const requested = h.activityCancelRequested(a1);
    h.activityCanceled(a1, requested, ['partial']);
    h.task();
    assert.deepEqual(commandTypes(await replay(workflow, h.snapshot())), [
      'CancelWorkflowExecution',
    ]);
  });

  test('a workflow may catch the cancellation and complete normally', async () => {
    const h = new HistoryBuilder();
    h.task();
    h.completed();
    h.timerStarted('1', 1000);
    h.cancelRequested();
    h.task();
    const commands = await replay(async () => {
      try {
        await sleep(1000);
        return 'slept';
      } catch (error) {
        return isCancellation(error) ? 'cancelled' : 'other';
      }
    }, h.snapshot());
    assert.deepEqual(commands, [
      { commandType: 'CancelTimer', attributes: { timerId: '1' } },
      { commandType: 'CompleteWorkflowExecution', attributes: { result: 'cancelled' } },
    ]);
  });

  test('CancellationScope.nonCancellable shields its work from the cancel request', async () => {
    const h = new HistoryBuilder({ input: ['n'] });
    h.task();
    h.completed();
    const a1 = h.activityScheduled('1', 'greet', ['n']);
    h.cancelRequested();
    h.task();
    const workflow = async (name: string) =>
      CancellationScope.nonCancellable(() => acts.greet(name));
    assert.deepEqual(await replay(workflow, h.snapshot()), []);
    h.completed();
    h.activityCompleted(a1, 'hello n');
    h.task();
    assert.deepEqual(await replay(workflow, h.snapshot()), [
      { commandType: 'CompleteWorkflowExecution', attributes: { result: 'hello n' } },
    ]);
  });

  test('cleanup in a non-cancellable scope runs after the cancel, then the run is cancelled', async () => {
    const workflow = async () => {
      try {
        await sleep('1 day');
      } catch (error) {
        if (isCancellation(error)) await CancellationScope.nonCancellable(() => acts.cleanup('x'));
        throw error;
      }
    };
    const h = new HistoryBuilder();
    h.task();
    h.completed();
    const t1 = h.timerStarted('1', 86_400_000);
    h.cancelRequested();
    h.task();
    const commands = await replay(workflow, h.snapshot());
    assert.deepEqual(commandTypes(commands), ['CancelTimer', 'ScheduleActivityTask']);
    assert.equal((commands[1]!.attributes as { activityType: string }).activityType, 'cleanup');
    h.completed();
    h.timerCanceled('1', t1);
    const a1 = h.activityScheduled('1', 'cleanup', ['x']);
    h.activityCompleted(a1);
    h.task();
    assert.deepEqual(commandTypes(await replay(workflow, h.snapshot())), [
      'CancelWorkflowExecution',
    ]);
  });

  test('cancelling an inner scope cancels only its own operations', async () => {
    const h = new HistoryBuilder();
    h.task();
    const commands = await replay(async () => {
      const outer = sleep(5000);
      const inner = CancellationScope.cancellable(async () => {
        const p = sleep(1000);
        CancellationScope.current().cancel();
        return p;
      });
      const outcome = await inner.then(
        () => 'inner slept',
        (e: unknown) => (isCancellation(e) ? 'inner cancelled' : 'other'),
      );
      void outer;
      return outcome;
    }, h.snapshot());
    // Timer 1 (outer) is sent; timer 2 was cancelled before it was sent, so it never leaves.
    assert.deepEqual(commands, [
      { commandType: 'StartTimer', attributes: { timerId: '1', startToFireTimeout: 5000 } },
      { commandType: 'CompleteWorkflowExecution', attributes: { result: 'inner cancelled' } },
    ]);
  });

  // A task retried after its first attempt failed (BadCommand, timeout, crash) sees the cancel
  // request and an outcome that arrived while that attempt was held in one activation. Asking the
  // engine to cancel an operation that already finished is refused (no pending activity / timer),
  // so the retry fails the same way forever: see test/runtime/state-loop.test.ts.
  test(
    'a cancel request and the completion of the activity in one activation: no cancel of the finished activity',
    {},
    async () => {
      const h = new HistoryBuilder({ input: ['n'] });
      h.task();
      h.completed();
      const a1 = h.activityScheduled('1', 'greet', ['n']);
      h.cancelRequested();
      h.task();
      h.failed();
      h.activityCompleted(a1, 'hello n');
      h.task();
      const commands = await replay(async (name: string) => acts.greet(name), h.snapshot());
      assert.equal(commandTypes(commands).includes('RequestCancelActivityTask'), false);
      assert.equal(commands.length, 1);
    },
  );

  test(
    'a cancel request and the TimerFired of the timer in one activation: no CancelTimer of the fired timer',
    {},
    async () => {
      const h = new HistoryBuilder();
      h.task();
      h.completed();
      const t1 = h.timerStarted('1', 1000);
      h.cancelRequested();
      h.task();
      h.failed();
      h.timerFired('1', t1);
      h.task();
      const commands = await replay(async () => sleep(1000), h.snapshot());
      assert.equal(commandTypes(commands).includes('CancelTimer'), false);
      assert.equal(commands.length, 1);
    },
  );
});

describe('workflow info and replay flag', () => {
  test('workflowInfo() describes the run', async () => {
    const h = new HistoryBuilder({ workflowType: 'infoWorkflow', taskQueue: 'q-7' });
    h.task();
    const commands = await replay(
      async () => {
        const info = workflowInfo();
        return {
          workflowId: info.workflowId,
          runId: info.runId,
          workflowType: info.workflowType,
          taskQueue: info.taskQueue,
          attempt: info.attempt,
          firstExecutionRunId: info.firstExecutionRunId,
          startTime: info.startTime.getTime(),
          workflowTaskTimeout: info.workflowTaskTimeout,
          historyLength: info.historyLength,
        };
      },
      h.snapshot(),
      'run-42',
    );
    assert.deepEqual((commands[0]!.attributes as { result: unknown }).result, {
      workflowId: 'wf-1',
      runId: 'run-42',
      workflowType: 'infoWorkflow',
      taskQueue: 'q-7',
      attempt: 1,
      firstExecutionRunId: 'run-1',
      startTime: START_TIME,
      workflowTaskTimeout: 10_000,
      historyLength: 3,
    });
  });

  test('isReplaying is true during replayed activations only', async () => {
    const { prefixes } = greetTwiceHistory();
    const seen: boolean[] = [];
    const workflow = async (name: string) => {
      seen.push(workflowInfo().unsafe.isReplaying);
      const first = await acts.greet(name);
      seen.push(workflowInfo().unsafe.isReplaying);
      await sleep('1 minute');
      seen.push(workflowInfo().unsafe.isReplaying);
      return acts.greet(first);
    };
    await replay(workflow, prefixes[2]!);
    assert.deepEqual(seen, [true, true, false]);

    seen.length = 0;
    const runner = newRunner(workflow, prefixes[0]!);
    for (const prefix of prefixes.slice(0, 3)) await runTask(runner, prefix);
    assert.deepEqual(seen, [false, false, false]);
    assert.equal(runner.activator.isReplaying, false);
  });

  test('log() writes once, on the live activation, with the run attributes', async () => {
    const { prefixes } = greetTwiceHistory();
    const lines: { level: string; message: string; attributes?: Record<string, unknown> }[] = [];
    const logger = {
      log: (level: string, message: string, attributes?: Record<string, unknown>) =>
        void lines.push({ level, message, ...(attributes ? { attributes } : {}) }),
    };
    const workflow = async (name: string) => {
      log.info('start', { name });
      const first = await acts.greet(name);
      log.warn('greeted');
      await sleep('1 minute');
      return first;
    };
    const history = prefixes[1]!;
    const runner = new WorkflowRunner(
      workflow,
      WorkflowRunner.infoFrom(history[0]!, 'run-1'),
      logger,
    );
    await runTask(runner, history);
    assert.deepEqual(lines, [
      {
        level: 'warn',
        message: 'greeted',
        attributes: { workflowId: 'wf-1', runId: 'run-1', workflowType: 'greetTwice' },
      },
    ]);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IllegalStateError, sleep, uuid4 } from 'keel/workflow';
import { installWorkflowGuards } from '../../src/runtime/global-guards.ts';
import { seededRandom, uuid4From } from '../../src/runtime/random.ts';
import { HistoryBuilder, START_TIME, commandTypes, newRunner, replay, runTask } from './history.ts';
import type { Command } from '../../src/state/commands.ts';

installWorkflowGuards();

const resultOf = (commands: Command[]): unknown => {
  const last = commands.at(-1);
  assert.equal(
    last?.commandType,
    'CompleteWorkflowExecution',
    `commands: ${commandTypes(commands).join(', ')}`,
  );
  return last.attributes.result;
};

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('time inside workflow code', () => {
  const clockWorkflow = async () => {
    const before = [Date.now(), new Date().getTime(), Date(), new Date(0).getTime()];
    await sleep('1 minute');
    const after = [Date.now(), new Date().valueOf()];
    return { before, after, isDate: new Date() instanceof Date };
  };

  function clockHistory() {
    const h = new HistoryBuilder();
    h.task(START_TIME + 5);
    h.completed();
    const t1 = h.timerStarted('1', 60_000);
    h.at(START_TIME + 61_000).timerFired('1', t1);
    h.task(START_TIME + 61_250);
    return h.snapshot();
  }

  test('Date.now(), new Date() and Date() give the WorkflowTaskStarted time of the current task', async () => {
    const result = resultOf(await replay(clockWorkflow, clockHistory()));
    assert.deepEqual(result, {
      before: [
        START_TIME + 5,
        START_TIME + 5,
        new Date(START_TIME + 5).toString(),
        0, // an explicit time is left alone
      ],
      after: [START_TIME + 61_250, START_TIME + 61_250],
      isDate: true,
    });
  });

  test('a cached runner sees the same times as a replay', async () => {
    const history = clockHistory();
    const runner = newRunner(clockWorkflow, history);
    const firstTask = history.slice(0, 3);
    await runTask(runner, firstTask);
    const cached = resultOf(await runTask(runner, history));
    assert.deepEqual(cached, resultOf(await replay(clockWorkflow, history)));
  });
});

describe('randomness inside workflow code', () => {
  const randomWorkflow = async () => [
    Math.random(),
    Math.random(),
    uuid4(),
    crypto.randomUUID(),
    Array.from(crypto.getRandomValues(new Uint8Array(4))),
  ];

  function firstTask() {
    const h = new HistoryBuilder();
    h.task();
    return h.snapshot();
  }

  test('Math.random(), uuid4(), crypto.randomUUID() and getRandomValues() repeat for the same run id', async () => {
    const a = resultOf(await replay(randomWorkflow, firstTask(), 'run-A')) as unknown[];
    const b = resultOf(await replay(randomWorkflow, firstTask(), 'run-A')) as unknown[];
    assert.deepEqual(a, b);
    assert.notEqual(a[0], a[1]);
    assert.match(a[2] as string, UUID_V4);
    assert.match(a[3] as string, UUID_V4);
    assert.notEqual(a[2], a[3]);
  });

  test('they come from the run-seeded generator, and differ between runs', async () => {
    const a = resultOf(await replay(randomWorkflow, firstTask(), 'run-A')) as unknown[];
    const c = resultOf(await replay(randomWorkflow, firstTask(), 'run-C')) as unknown[];
    assert.notDeepEqual(a, c);
    const expected = seededRandom('run-A');
    assert.equal(a[0], expected());
    assert.equal(a[1], expected());
    assert.equal(a[2], uuid4From(expected));
  });

  test('a value drawn before a timer is the same on replay', async () => {
    const workflow = async () => {
      const id = uuid4();
      await sleep(1000);
      return [id, Math.random()];
    };
    const h = new HistoryBuilder();
    h.task();
    const first = h.snapshot();
    h.completed();
    const t = h.timerStarted('1', 1000);
    h.timerFired('1', t);
    h.task();
    const runner = newRunner(workflow, first, 'run-R');
    await runTask(runner, first);
    const live = resultOf(await runTask(runner, h.snapshot()));
    const replayed = resultOf(await replay(workflow, h.snapshot(), 'run-R'));
    assert.deepEqual(live, replayed);
  });
});

describe('timers and forbidden APIs inside workflow code', () => {
  test('setTimeout makes a durable StartTimer; its callback runs when TimerFired arrives', async () => {
    const calls: unknown[] = [];
    const workflow = async () => {
      await new Promise<void>((resolve) =>
        setTimeout(
          (x: string) => {
            calls.push(x);
            resolve();
          },
          2500,
          'arg',
        ),
      );
      return 'woke';
    };
    const h = new HistoryBuilder();
    h.task();
    assert.deepEqual(await replay(workflow, h.snapshot()), [
      { commandType: 'StartTimer', attributes: { timerId: '1', startToFireTimeout: 2500 } },
    ]);
    assert.deepEqual(calls, []);
    h.completed();
    const t = h.timerStarted('1', 2500);
    h.timerFired('1', t);
    h.task();
    calls.length = 0;
    assert.equal(resultOf(await replay(workflow, h.snapshot())), 'woke');
    assert.deepEqual(calls, ['arg']);
  });

  test('setTimeout(fn) with no delay still makes a timer of at least 1 ms', async () => {
    const h = new HistoryBuilder();
    h.task();
    const commands = await replay(async () => {
      setTimeout(() => undefined);
      return new Promise(() => undefined);
    }, h.snapshot());
    assert.deepEqual(commands, [
      { commandType: 'StartTimer', attributes: { timerId: '1', startToFireTimeout: 1 } },
    ]);
  });

  test('clearTimeout before the task ends sends nothing; in a later task it sends CancelTimer', async () => {
    const h = new HistoryBuilder();
    h.task();
    const sameTask = await replay(async () => {
      const handle = setTimeout(() => undefined, 1000);
      clearTimeout(handle);
      return 'cleared';
    }, h.snapshot());
    assert.deepEqual(sameTask, [
      { commandType: 'CompleteWorkflowExecution', attributes: { result: 'cleared' } },
    ]);

    const workflow = async () => {
      const handle = setTimeout(() => undefined, 60_000);
      await sleep(10);
      clearTimeout(handle);
      return 'cleared later';
    };
    const h2 = new HistoryBuilder();
    h2.task();
    h2.completed();
    h2.timerStarted('1', 60_000);
    const t2 = h2.timerStarted('2', 10);
    h2.timerFired('2', t2);
    h2.task();
    assert.deepEqual(await replay(workflow, h2.snapshot()), [
      { commandType: 'CancelTimer', attributes: { timerId: '1' } },
      { commandType: 'CompleteWorkflowExecution', attributes: { result: 'cleared later' } },
    ]);
  });

  const forbidden: [string, () => unknown, RegExp][] = [
    [
      'setInterval',
      () => setInterval(() => undefined, 10),
      /setInterval\(\) is not supported in workflow code: use a loop with sleep\(\)/,
    ],
    [
      'setImmediate',
      () => setImmediate(() => undefined),
      /setImmediate\(\) is not allowed in workflow code/,
    ],
    [
      'fetch',
      () => fetch('http://127.0.0.1:1/'),
      /fetch\(\) is I\/O and cannot run in workflow code: call it from an activity/,
    ],
  ];
  for (const [name, call, message] of forbidden) {
    test(`${name}() inside workflow code throws an IllegalStateError that says what to use instead`, async () => {
      const h = new HistoryBuilder();
      h.task();
      const result = resultOf(
        await replay(async () => {
          try {
            call();
            return 'allowed';
          } catch (error) {
            return [error instanceof IllegalStateError, (error as Error).message];
          }
        }, h.snapshot()),
      ) as [boolean, string];
      assert.equal(result[0], true);
      assert.match(result[1], message);
    });
  }

  test('uncaught, the forbidden call fails the workflow task', async () => {
    const h = new HistoryBuilder();
    h.task();
    await assert.rejects(
      replay(async () => {
        setInterval(() => undefined, 1000);
        return 'never';
      }, h.snapshot()),
      (e: unknown) => e instanceof IllegalStateError && /use a loop with sleep\(\)/.test(e.message),
    );
  });
});

describe('outside workflow code the globals behave as usual', () => {
  test('Date is real time', () => {
    const real = performance.timeOrigin + performance.now();
    assert.ok(Math.abs(Date.now() - real) < 5000, `Date.now() ${Date.now()} vs ${real}`);
    assert.ok(Math.abs(new Date().getTime() - real) < 5000);
    assert.equal(new Date(5).getTime(), 5);
    assert.equal(typeof Date(), 'string');
    assert.equal(Date.UTC(2020, 0, 1), 1577836800000);
  });

  test('Math.random and crypto are not seeded', () => {
    const values = Array.from({ length: 4 }, () => Math.random());
    assert.equal(new Set(values).size, 4);
    for (const seed of ['run-1', 'run-A']) assert.notEqual(values[0], seededRandom(seed)());
    assert.notEqual(crypto.randomUUID(), crypto.randomUUID());
  });

  test('setTimeout, setInterval and setImmediate schedule real callbacks', async () => {
    const order: string[] = [];
    const timeout = setTimeout(() => undefined, 10_000);
    assert.equal(typeof timeout, 'object', 'a Node Timeout, not a workflow timer handle');
    clearTimeout(timeout);
    await new Promise<void>((resolve) => setTimeout(() => (order.push('timeout'), resolve()), 0));
    await new Promise<void>((resolve) => setImmediate(() => (order.push('immediate'), resolve())));
    const interval = setInterval(() => undefined, 1000);
    clearInterval(interval);
    assert.deepEqual(order, ['timeout', 'immediate']);
  });

  test('fetch is the real one (it fails on a bad URL, not with IllegalStateError)', async () => {
    await assert.rejects(fetch('not a url'), (e: unknown) => e instanceof TypeError);
  });

  test('installing the guards twice is harmless', () => {
    const before = [Math.random, globalThis.setTimeout, globalThis.Date];
    installWorkflowGuards();
    assert.deepEqual([Math.random, globalThis.setTimeout, globalThis.Date], before);
  });
});

/**
 * Visibility end to end: memo and typed search attributes set at start and upserted by the
 * workflow, as describe() shows them and as list() and count() find them with the query language;
 * paging; errors for malformed queries and for a search attribute used with another type.
 *
 * The runs are started on a virtual clock that jumps a minute before each start, so start times
 * are distinct and known (StartTime BETWEEN, newest-first order).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Client,
  WorkflowFailedError,
  type ExecutionSummary,
  type WorkflowHandle,
} from 'keel/client';
import { Worker, type Store } from 'keel/worker';
import type { SearchAttributeValues } from 'keel/workflow';
import { ListQueryError } from '../../src/visibility/list-query.ts';
import { VirtualClock } from '../../src/testing/virtual-clock.ts';
import type { Clock } from '../../src/engine/clock.ts';
import { expectInstance } from '../fixtures/expect-instance.ts';
import { captureLogger, openTestStore } from '../helpers/env.ts';
import { waitFor, within } from '../fixtures/integration-support.ts';
import * as workflows from '../fixtures/visibility-workflows.ts';
import { finish, startInfo, upsert, upsertBySignal } from '../fixtures/visibility-workflows.ts';

const TASK_QUEUE = 'visibility';
const MINUTE = 60_000;

interface VisibilityEnv {
  store: Store;
  client: Client;
  clock: VirtualClock;
  logs: ReturnType<typeof captureLogger>;
  startWorker(): Promise<void>;
}

async function withVisibilityEnv(
  fn: (env: VisibilityEnv) => Promise<void>,
  clock: Clock = new VirtualClock(),
): Promise<void> {
  const { store, dispose } = openTestStore({ clock });
  const client = new Client({ store });
  const logs = captureLogger();
  const running: { worker: Worker; done: Promise<void> }[] = [];
  try {
    await fn({
      store,
      client,
      clock: clock as VirtualClock,
      logs,
      async startWorker() {
        const worker = await Worker.create({
          store,
          taskQueue: TASK_QUEUE,
          workflows,
          handleSignals: false,
          logger: logs,
          shutdownGraceTime: 100,
        });
        running.push({ worker, done: worker.run() });
      },
    });
  } finally {
    for (const { worker } of running) worker.shutdown();
    await Promise.all(running.map((r) => r.done));
    await client.close();
    await store.close();
    await dispose();
  }
}

const keyword = (value: string) => ({ type: 'Keyword', value }) as const;
const keywords = (...value: string[]) => ({ type: 'KeywordList', value }) as const;
const text = (value: string) => ({ type: 'Text', value }) as const;
const int = (value: number) => ({ type: 'Int', value }) as const;
const double = (value: number) => ({ type: 'Double', value }) as const;
const bool = (value: boolean) => ({ type: 'Bool', value }) as const;
const datetime = (iso: string) => ({ type: 'Datetime', value: Date.parse(iso) }) as const;

/** Every workflow id `list({ query })` yields, in order; and checks that `count` agrees. */
async function ids(client: Client, query: string, pageSize?: number): Promise<string[]> {
  const found: string[] = [];
  for await (const run of client.workflow.list({ query, ...(pageSize ? { pageSize } : {}) }))
    found.push(run.workflowId);
  assert.equal((await client.workflow.count({ query })).count, found.length, `count of ${query}`);
  return found;
}

const sorted = (list: string[]) => [...list].sort();

/** The seven runs the query tests look at, started one virtual minute apart, oldest first. */
const FIXTURE: {
  type: 'order' | 'invoice';
  id: string;
  searchAttributes: SearchAttributeValues;
  outcome: 'running' | 'complete' | 'fail' | 'terminate';
}[] = [
  {
    type: 'order',
    id: 'o-1',
    outcome: 'running',
    searchAttributes: {
      CustomerId: keyword('c-42'),
      Tags: keywords('vip', 'eu'),
      Amount: double(120.5),
      Priority: int(2),
      Express: bool(true),
      Description: text('Sea kayak with paddle'),
      DueDate: datetime('2026-12-01T00:00:00Z'),
    },
  },
  {
    type: 'order',
    id: 'o-2',
    outcome: 'complete',
    searchAttributes: {
      CustomerId: keyword('c-42'),
      Tags: keywords('eu'),
      Amount: double(15),
      Priority: int(1),
      Express: bool(false),
      Description: text('Spare paddle'),
      DueDate: datetime('2027-01-10T00:00:00Z'),
    },
  },
  {
    type: 'order',
    id: 'o-3',
    outcome: 'running',
    searchAttributes: {
      CustomerId: keyword('c-7'),
      Tags: keywords('us'),
      Amount: double(99.99),
      Priority: int(3),
      Description: text('Kayak cart, foldable'),
    },
  },
  {
    type: 'order',
    id: 'o-4',
    outcome: 'fail',
    searchAttributes: {
      CustomerId: keyword('c-42'),
      Amount: double(500),
      Priority: int(5),
      Express: bool(true),
    },
  },
  {
    type: 'invoice',
    id: 'i-1',
    outcome: 'running',
    searchAttributes: { CustomerId: keyword('c-42'), Tags: keywords('vip') },
  },
  {
    type: 'invoice',
    id: 'i-2',
    outcome: 'complete',
    searchAttributes: { CustomerId: keyword('c-1') },
  },
  { type: 'order', id: 'o-5', outcome: 'terminate', searchAttributes: {} },
];

/** Starts the fixture's runs (a minute apart), then a worker, and brings each to its outcome. */
async function startFixture(env: VisibilityEnv): Promise<Map<string, WorkflowHandle>> {
  const handles = new Map<string, WorkflowHandle>();
  for (const run of FIXTURE) {
    env.clock.advanceTo(env.clock.now() + MINUTE);
    handles.set(
      run.id,
      await env.client.workflow.start(run.type, {
        taskQueue: TASK_QUEUE,
        workflowId: run.id,
        searchAttributes: run.searchAttributes,
        memo: { createdBy: 'fixture', run: run.id },
      }),
    );
  }
  await env.startWorker();
  for (const run of FIXTURE) {
    const handle = handles.get(run.id)!;
    if (run.outcome === 'terminate') await handle.terminate('not needed');
    if (run.outcome === 'complete' || run.outcome === 'fail') {
      await handle.signal(finish, run.outcome);
      await within(10_000, `${run.id} to close`, handle.result()).catch((error: unknown) => {
        if (!(error instanceof WorkflowFailedError)) throw error;
      });
    }
  }
  return handles;
}

test('memo and search attributes of every type, set at start, are shown by describe(), list() and the workflow', async () => {
  await withVisibilityEnv(async (env) => {
    await env.startWorker();
    const searchAttributes = {
      CustomerId: keyword('c-42'),
      Tags: keywords('vip', 'eu'),
      Description: text('Sea kayak with paddle'),
      Priority: int(2),
      Amount: double(120.5),
      Express: bool(true),
      DueDate: datetime('2026-12-01T09:30:00.250Z'),
    };
    const memo = { note: 'gift wrap', lines: [{ sku: 'kayak', quantity: 1 }], rush: true };
    const handle = await env.client.workflow.start(workflows.order, {
      taskQueue: TASK_QUEUE,
      workflowId: 'order-42',
      searchAttributes,
      memo,
    });
    const description = await handle.describe();
    assert.deepEqual(description.searchAttributes, searchAttributes);
    assert.deepEqual(description.memo, memo);

    const listed: ExecutionSummary[] = [];
    for await (const run of env.client.workflow.list({ query: "WorkflowId = 'order-42'" }))
      listed.push(run);
    assert.equal(listed.length, 1);
    assert.deepEqual(listed[0]?.searchAttributes, searchAttributes);
    assert.deepEqual(listed[0]?.memo, memo);

    assert.deepEqual(await handle.query(startInfo), { memo, searchAttributes });
    assert.deepEqual(
      await env.store.searchAttributeTypes(),
      new Map([
        ['Amount', 'Double'],
        ['CustomerId', 'Keyword'],
        ['Description', 'Text'],
        ['DueDate', 'Datetime'],
        ['Express', 'Bool'],
        ['Priority', 'Int'],
        ['Tags', 'KeywordList'],
      ]),
    );
    await handle.terminate('test over');
  });
});

test('upserts from the workflow: describe() shows the merge, new values match, old and removed (null) ones no longer do', async () => {
  await withVisibilityEnv(async (env) => {
    await env.startWorker();
    const handle = await env.client.workflow.start(workflows.order, {
      taskQueue: TASK_QUEUE,
      workflowId: 'order-7',
      searchAttributes: {
        CustomerId: keyword('c-1'),
        Priority: int(1),
        Tags: keywords('new'),
      },
      memo: { note: 'first', keep: 1 },
    });
    const count = async (query: string) => (await env.client.workflow.count({ query })).count;
    assert.deepEqual(
      [await count("CustomerId = 'c-1'"), await count('Priority = 1'), await count("Tags = 'new'")],
      [1, 1, 1],
    );

    assert.equal(
      await handle.executeUpdate(upsert, {
        args: [
          {
            CustomerId: keyword('c-2'),
            Priority: null,
            Tags: keywords('vip', 'eu'),
            Paid: bool(true),
            PaidAt: datetime('2026-11-25T10:00:00Z'),
          },
          { note: 'second', keep: null, added: { by: 'workflow' } },
        ],
      }),
      'upserted',
    );

    const description = await handle.describe();
    assert.deepEqual(description.searchAttributes, {
      CustomerId: keyword('c-2'),
      Tags: keywords('vip', 'eu'),
      Paid: bool(true),
      PaidAt: datetime('2026-11-25T10:00:00Z'),
    });
    assert.deepEqual(description.memo, { note: 'second', added: { by: 'workflow' } });

    assert.equal(await count("CustomerId = 'c-1'"), 0, 'the old value no longer matches');
    assert.equal(await count("CustomerId = 'c-2'"), 1);
    assert.equal(await count('Priority = 1'), 0, 'the removed attribute no longer matches');
    assert.equal(await count('Priority IS NULL'), 1);
    assert.equal(await count("Tags = 'new'"), 0);
    assert.equal(await count("Tags = 'vip' AND Tags = 'eu'"), 1);
    assert.equal(await count("Paid = true AND PaidAt >= '2026-11-25'"), 1);
    // The start-time values stay what the workflow was given.
    assert.deepEqual((await handle.query(startInfo)).memo, { note: 'first', keep: 1 });

    const { events } = await handle.fetchHistory();
    const upserted = events.find((e) => e.eventType === 'UpsertWorkflowSearchAttributes');
    assert.equal(
      upserted?.eventType === 'UpsertWorkflowSearchAttributes' &&
        upserted.attributes.searchAttributes.Priority,
      null,
      'the removal is recorded',
    );
    assert.equal(events.filter((e) => e.eventType === 'WorkflowPropertiesModified').length, 1);

    // Closing keeps the upserted values.
    await handle.signal(finish, 'complete');
    await within(10_000, 'the result', handle.result());
    assert.equal(await count("CustomerId = 'c-2' AND ExecutionStatus = 'Completed'"), 1);
  });
});

test('list() and count() with the query language: AND, IN, BETWEEN on StartTime, KeywordList, IS NULL, OR and parentheses, every type', async () => {
  await withVisibilityEnv(async (env) => {
    const handles = await startFixture(env);
    const c = env.client;
    assert.deepEqual(
      await ids(
        c,
        "WorkflowType = 'order' AND ExecutionStatus = 'Running' AND CustomerId = 'c-42'",
      ),
      ['o-1'],
    );
    assert.deepEqual(await ids(c, ''), ['o-5', 'i-2', 'i-1', 'o-4', 'o-3', 'o-2', 'o-1']);
    assert.deepEqual(await ids(c, "CustomerId IN ('c-7', 'c-1')"), ['i-2', 'o-3']);
    assert.deepEqual(await ids(c, "CustomerId NOT IN ('c-42')"), ['o-5', 'i-2', 'o-3']);
    assert.deepEqual(await ids(c, "ExecutionStatus IN ('Failed', 'Terminated')"), ['o-5', 'o-4']);

    // StartTime BETWEEN is inclusive at both ends.
    const startOf = async (id: string) =>
      (await handles.get(id)!.describe()).startTime.toISOString();
    assert.deepEqual(
      await ids(c, `StartTime BETWEEN '${await startOf('o-2')}' AND '${await startOf('o-4')}'`),
      ['o-4', 'o-3', 'o-2'],
    );
    assert.deepEqual(
      await ids(c, `StartTime > '${await startOf('i-1')}' AND WorkflowType = 'order'`),
      ['o-5'],
    );

    // KeywordList: = and IN test membership; != and NOT IN mean "no element equals".
    assert.deepEqual(await ids(c, "Tags = 'vip'"), ['i-1', 'o-1']);
    assert.deepEqual(await ids(c, "Tags IN ('us', 'vip')"), ['i-1', 'o-3', 'o-1']);
    assert.deepEqual(await ids(c, "Tags = 'vip' AND Tags = 'eu'"), ['o-1']);
    assert.deepEqual(await ids(c, "Tags != 'eu'"), ['o-5', 'i-2', 'i-1', 'o-4', 'o-3']);

    // IS NULL: a custom attribute the run lacks; CloseTime of open runs.
    assert.deepEqual(await ids(c, 'Tags IS NULL'), ['o-5', 'i-2', 'o-4']);
    assert.deepEqual(await ids(c, 'Amount IS NOT NULL'), ['o-4', 'o-3', 'o-2', 'o-1']);
    assert.deepEqual(await ids(c, 'CloseTime IS NULL'), ['i-1', 'o-3', 'o-1']);

    // OR and parentheses; AND binds tighter than OR.
    assert.deepEqual(
      await ids(
        c,
        "(ExecutionStatus = 'Completed' OR ExecutionStatus = 'Failed') AND WorkflowType = 'order'",
      ),
      ['o-4', 'o-2'],
    );
    assert.deepEqual(
      await ids(
        c,
        "ExecutionStatus = 'Completed' OR ExecutionStatus = 'Failed' AND WorkflowType = 'order'",
      ),
      ['i-2', 'o-4', 'o-2'],
    );
    assert.deepEqual(await ids(c, "NOT (WorkflowType = 'order' OR CustomerId = 'c-42')"), ['i-2']);
    assert.deepEqual(await ids(c, "WorkflowId STARTS_WITH 'i-'"), ['i-2', 'i-1']);

    // The other types.
    assert.deepEqual(
      await ids(c, "Description = 'KAYAK'"),
      ['o-3', 'o-1'],
      'Text: a word, any case',
    );
    assert.deepEqual(await ids(c, "Description = 'paddle kayak'"), ['o-1'], 'Text: all the words');
    assert.deepEqual(await ids(c, "Description = 'kay'"), [], 'Text: whole words only');
    assert.deepEqual(await ids(c, 'Amount >= 99.99 AND Amount < 500'), ['o-3', 'o-1']);
    assert.deepEqual(await ids(c, 'Priority BETWEEN 2 AND 3'), ['o-3', 'o-1']);
    assert.deepEqual(await ids(c, 'Priority IN (1, 5)'), ['o-4', 'o-2']);
    assert.deepEqual(await ids(c, 'Express = true'), ['o-4', 'o-1']);
    assert.deepEqual(await ids(c, 'Express != true'), ['o-5', 'i-2', 'i-1', 'o-3', 'o-2']);
    assert.deepEqual(await ids(c, "DueDate < '2026-12-15'"), ['o-1']);
    assert.deepEqual(await ids(c, "DueDate >= '2026-12-15T00:00:00+01:00'"), ['o-2']);
    assert.deepEqual(
      await ids(
        c,
        "CustomerId = 'c-42' AND (Express = false OR Tags IS NULL) AND HistoryLength > 0",
      ),
      ['o-4', 'o-2'],
    );
  });
});

test('paging: pageSize 2 over 7 runs yields all 7, newest first, in 4 round trips', async () => {
  await withVisibilityEnv(async (env) => {
    await startFixture(env);
    const pages: number[] = [];
    const listExecutions = env.store.listExecutions.bind(env.store);
    env.store.listExecutions = async (options) => {
      const page = await listExecutions(options);
      pages.push(page.length);
      return page;
    };
    assert.deepEqual(await ids(env.client, '', 2), [
      'o-5',
      'i-2',
      'i-1',
      'o-4',
      'o-3',
      'o-2',
      'o-1',
    ]);
    assert.deepEqual(pages, [2, 2, 2, 1]);
    pages.length = 0;
    assert.deepEqual(await ids(env.client, "WorkflowType = 'order'", 2), [
      'o-5',
      'o-4',
      'o-3',
      'o-2',
      'o-1',
    ]);
    assert.deepEqual(pages, [2, 2, 1]);
    pages.length = 0;
    // A page boundary that falls on the last run: one more round trip finds nothing.
    assert.deepEqual(await ids(env.client, "WorkflowType = 'invoice'", 2), ['i-2', 'i-1']);
    assert.deepEqual(pages, [2, 0]);
  });
});

test('paging over runs started in the same millisecond loses and repeats none', async () => {
  const frozen = Date.parse('2026-11-25T10:00:00Z');
  await withVisibilityEnv(
    async (env) => {
      for (let i = 1; i <= 7; i++)
        await env.client.workflow.start('order', {
          taskQueue: TASK_QUEUE,
          workflowId: `same-${i}`,
        });
      const paged = await ids(env.client, '', 2);
      assert.deepEqual(sorted(paged), [
        'same-1',
        'same-2',
        'same-3',
        'same-4',
        'same-5',
        'same-6',
        'same-7',
      ]);
      // Ties are ordered by run id, newest (largest) first, the same way on every page.
      const all: ExecutionSummary[] = [];
      for await (const run of env.client.workflow.list({ pageSize: 100 })) all.push(run);
      assert.deepEqual(
        paged,
        all.map((r) => r.workflowId),
      );
      assert.deepEqual(
        all.map((r) => r.runId),
        all
          .map((r) => r.runId)
          .sort()
          .reverse(),
      );
    },
    { now: () => frozen },
  );
});

/** The ListQueryError that `list()` and `count()` both throw for `query`. */
async function queryError(client: Client, query: string): Promise<ListQueryError> {
  const fromCount = await client.workflow.count({ query }).then(
    () => assert.fail(`count() should refuse ${query}`),
    (e: unknown) => e,
  );
  const fromList = await (async () => {
    for await (const _ of client.workflow.list({ query })) return undefined;
    return undefined;
  })().then(
    () => assert.fail(`list() should refuse ${query}`),
    (e: unknown) => e,
  );
  expectInstance(fromCount, ListQueryError, String(fromCount));
  expectInstance(fromList, ListQueryError, String(fromList));
  assert.equal(fromList.message, fromCount.message);
  return fromCount;
}

test('a malformed query throws ListQueryError pointing at the bad token', async () => {
  await withVisibilityEnv(async (env) => {
    await env.client.workflow.start('order', {
      taskQueue: TASK_QUEUE,
      workflowId: 'o-1',
      searchAttributes: { CustomerId: keyword('c-42'), Priority: int(1), Tags: keywords('vip') },
    });
    const missingValue = await queryError(env.client, "WorkflowType = AND TaskQueue = 'q'");
    assert.equal(
      missingValue.message,
      [
        "Invalid list query: expected a value after '=' at position 15 (found 'AND')",
        "  WorkflowType = AND TaskQueue = 'q'",
        '                 ^',
      ].join('\n'),
    );
    assert.deepEqual([missingValue.position, missingValue.token], [15, 'AND']);

    const doubleEquals = await queryError(env.client, "WorkflowType == 'order'");
    assert.match(doubleEquals.message, /unknown operator '==' at position 13 \(use '='\)/);
    assert.deepEqual([doubleEquals.position, doubleEquals.token], [13, '==']);

    const unknown = await queryError(env.client, "CustomerId = 'c-42' AND Customer = 'x'");
    assert.match(unknown.message, /unknown search attribute 'Customer' at position 24/);
    assert.match(unknown.message, /custom: CustomerId, Priority, Tags/);
    assert.match(unknown.message, /\n {2}CustomerId = 'c-42' AND Customer = 'x'\n {26}\^$/);

    const wrongType = await queryError(env.client, "Priority = 'high'");
    assert.match(
      wrongType.message,
      /expected an integer for Int attribute Priority at position 11/,
    );
    assert.equal(wrongType.token, "'high'");

    const unsupported = await queryError(env.client, "Tags STARTS_WITH 'v'");
    assert.match(
      unsupported.message,
      /operator 'STARTS_WITH' is not supported for KeywordList attribute Tags/,
    );
    assert.equal(unsupported.position, 5);

    const unclosed = await queryError(env.client, "(WorkflowType = 'order'");
    assert.equal(unclosed.position, "(WorkflowType = 'order'".length);
    assert.equal(unclosed.token, '');

    const unquoted = await queryError(env.client, 'WorkflowType = order');
    assert.match(unquoted.message, /strings are quoted: 'order'/);

    const badStatus = await queryError(env.client, "ExecutionStatus = 'running'");
    assert.match(badStatus.message, /did you mean 'Running'\?/);
  });
});

test('a search attribute name used with another type than its first use is refused, at start and from the workflow', async () => {
  await withVisibilityEnv(async (env) => {
    await env.startWorker();
    const first = await env.client.workflow.start(workflows.order, {
      taskQueue: TASK_QUEUE,
      workflowId: 'first',
      searchAttributes: { CustomerId: keyword('c-42'), Priority: int(1) },
    });

    // At start: refused, and nothing is started.
    const atStart = await env.client.workflow
      .start(workflows.order, {
        taskQueue: TASK_QUEUE,
        workflowId: 'second',
        searchAttributes: { CustomerId: int(42) },
      })
      .then(
        () => assert.fail('a start with CustomerId as an Int should be refused'),
        (e: unknown) => e,
      );
    expectInstance(atStart, Error, String(atStart));
    assert.match(
      atStart.message,
      /Search attribute 'CustomerId' is of type Keyword, not Int: its type was fixed by its first use/,
    );
    assert.equal((await env.client.workflow.count({ query: "WorkflowId = 'second'" })).count, 0);
    assert.equal((await env.store.searchAttributeTypes()).get('CustomerId'), 'Keyword');

    // From the workflow: the workflow task is refused (BadCommand) and the run keeps its values.
    await first.signal(upsertBySignal, { Priority: keyword('high') });
    const failure = await waitFor('the refused upsert', async () => {
      return (await first.describe()).lastWorkflowTaskFailure;
    });
    assert.equal(failure.cause, 'BadCommand');
    assert.match(failure.message, /Search attribute 'Priority' is of type Int, not Keyword/);
    const description = await first.describe();
    assert.equal(description.status.name, 'Running');
    assert.deepEqual(description.searchAttributes, {
      CustomerId: keyword('c-42'),
      Priority: int(1),
    });
    assert.equal((await env.client.workflow.count({ query: 'Priority = 1' })).count, 1);
    const { events } = await first.fetchHistory();
    assert.equal(
      events.some((e) => e.eventType === 'UpsertWorkflowSearchAttributes'),
      false,
    );

    // The query language keeps the first type too.
    const error = await queryError(env.client, "Priority = 'high'");
    assert.match(error.message, /expected an integer for Int attribute Priority/);
    await first.terminate('test over');
  });
});

test(
  'a custom search attribute may not take the name of a built-in one (queries could never reach it)',
  {},
  async () => {
    await withVisibilityEnv(async (env) => {
      for (const searchAttributes of [
        { WorkflowType: keyword('fake') },
        { ExecutionStatus: int(3) },
      ] as SearchAttributeValues[]) {
        const error = await env.client.workflow
          .start('order', { taskQueue: TASK_QUEUE, workflowId: 'shadow', searchAttributes })
          .then(
            () => assert.fail(`${Object.keys(searchAttributes)[0]} should be refused`),
            (e: unknown) => e,
          );
        expectInstance(error, TypeError, String(error));
        assert.match(error.message, /built-in/);
      }
      assert.deepEqual(await env.store.searchAttributeTypes(), new Map());
    });
  },
);

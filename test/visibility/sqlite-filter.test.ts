/**
 * The SQLite compiler against a real (in-memory) database: a dozen runs with search attributes,
 * and for each query exactly the runs it must return. A randomized test then checks generated
 * queries against a reference evaluator written directly from the documented semantics (the runs,
 * the evaluator and the generator are in `reference.ts`, shared with the PostgreSQL test).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { ListQueryError, parseListQuery } from '../../src/visibility/list-query.ts';
import {
  encodeSearchAttributeValue,
  type SearchAttributeTypes,
} from '../../src/visibility/search-attributes.ts';
import { compileSqliteFilter } from '../../src/visibility/sqlite-filter.ts';
import { assertListQueryError } from './helpers.ts';
import { ALL, RUNS, epochMs, except, generatedQueries, types } from './reference.ts';

let db: Database.Database;

before(() => {
  db = new Database(':memory:');
  db.exec(`
    CREATE TABLE executions (
      run_id TEXT PRIMARY KEY,
      workflow_id TEXT NOT NULL,
      workflow_type TEXT NOT NULL,
      task_queue TEXT NOT NULL,
      status TEXT NOT NULL,
      start_time INTEGER NOT NULL,
      close_time INTEGER,
      history_length INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE search_attributes (run_id TEXT NOT NULL, name TEXT NOT NULL, value ANY NOT NULL) STRICT;
    CREATE INDEX search_attributes_value ON search_attributes (name, value, run_id);
  `);
  const insertRun = db.prepare('INSERT INTO executions VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const insertAttribute = db.prepare('INSERT INTO search_attributes VALUES (?, ?, ?)');
  for (const run of RUNS) {
    insertRun.run(
      run.runId,
      run.workflowId,
      run.workflowType,
      run.taskQueue,
      run.status,
      epochMs(run.startTime),
      epochMs(run.closeTime),
      run.historyLength,
    );
    for (const [name, value] of Object.entries(run.attributes)) {
      const type = types.get(name);
      assert.ok(type, name);
      for (const stored of encodeSearchAttributeValue(name, type, value)) {
        insertAttribute.run(run.runId, name, stored);
      }
    }
  }
});

after(() => db.close());

/** The run ids the query selects, in order. */
function runs(query: string, registry: SearchAttributeTypes = types): string[] {
  const { sql, params } = compileSqliteFilter(query, registry);
  return db
    .prepare(`SELECT run_id FROM executions WHERE ${sql} ORDER BY run_id`)
    .pluck()
    .all(...params) as string[];
}

function count(query: string): number {
  const { sql, params } = compileSqliteFilter(query, types);
  return db
    .prepare(`SELECT count(*) FROM executions WHERE ${sql}`)
    .pluck()
    .get(...params) as number;
}

describe('compileSqliteFilter: SQL', () => {
  test('built-ins are qualified columns, custom attributes EXISTS subqueries, values parameters', () => {
    assert.deepEqual(
      compileSqliteFilter(
        "WorkflowType = 'order' AND ExecutionStatus = 'Running' AND CustomerId = 'c-42'",
        types,
      ),
      {
        sql:
          'executions.workflow_type = ? AND executions.status = ? AND ' +
          'EXISTS (SELECT 1 FROM search_attributes sa WHERE sa.run_id = executions.run_id AND sa.name = ? AND sa.value = ?)',
        params: ['order', 'Running', 'CustomerId', 'c-42'],
      },
    );
  });

  test('negated and NULL tests on custom attributes are NOT EXISTS', () => {
    assert.deepEqual(compileSqliteFilter("Tags NOT IN ('a', 'b') OR Paid IS NULL", types), {
      sql:
        '(NOT EXISTS (SELECT 1 FROM search_attributes sa WHERE sa.run_id = executions.run_id AND sa.name = ? AND sa.value IN (?, ?))' +
        ' OR NOT EXISTS (SELECT 1 FROM search_attributes sa WHERE sa.run_id = executions.run_id AND sa.name = ?))',
      params: ['Tags', 'a', 'b', 'Paid'],
    });
  });

  test('an empty query is TRUE', () => {
    assert.deepEqual(compileSqliteFilter(''), { sql: 'TRUE', params: [] });
    assert.deepEqual(compileSqliteFilter(' \n '), { sql: 'TRUE', params: [] });
  });

  test('a parsed query can be passed instead of the text', () => {
    const parsed = parseListQuery("WorkflowId = 'order-1'");
    assert.deepEqual(compileSqliteFilter(parsed), compileSqliteFilter("WorkflowId = 'order-1'"));
  });

  test('values never reach the SQL text', () => {
    const evil = "x' OR 1=1 --";
    for (const query of [
      `WorkflowId = "${evil}"`,
      `CustomerId = "${evil}"`,
      `WorkflowId IN ('a', "${evil}")`,
      `WorkflowId STARTS_WITH "${evil}"`,
      `Tags != "${evil}"`,
    ]) {
      const { sql, params } = compileSqliteFilter(query, types);
      assert.doesNotMatch(sql, /1=1|--|x'/, query);
      assert.ok(
        params.some((p) => typeof p === 'string' && p.includes('1=1')),
        `${query}: ${JSON.stringify(params)}`,
      );
    }
    assert.deepEqual(runs(`WorkflowId = "${evil}"`), []);
    assert.deepEqual(runs(`CustomerId = '${evil.replaceAll("'", "''")}'`), []);
    assert.deepEqual(runs(`NOT WorkflowId = "${evil}"`), ALL);
    assert.deepEqual(runs(`WorkflowId STARTS_WITH "${evil}"`), []);
    // A Text value is split into words, each a parameter.
    const text = compileSqliteFilter(`Description = "${evil}"`, types);
    assert.doesNotMatch(text.sql, /1=1|--|x'/);
    assert.equal(text.params.length, 5);
  });

  test('table names are options, and must be identifiers', () => {
    const { sql, params } = compileSqliteFilter(
      "CustomerId = 'c-7' AND TaskQueue = 'orders'",
      types,
      {
        executionsTable: 'e',
      },
    );
    assert.match(sql, /sa\.run_id = e\.run_id/);
    assert.deepEqual(
      db
        .prepare(`SELECT e.run_id FROM executions e WHERE ${sql} ORDER BY 1`)
        .pluck()
        .all(...params),
      ['r02', 'r09'],
    );
    assert.match(
      compileSqliteFilter('Paid = true', types, { searchAttributesTable: 'sa2' }).sql,
      /FROM sa2 sa /,
    );
    assert.throws(
      () => compileSqliteFilter('', types, { executionsTable: 'executions; DROP TABLE x' }),
      /^TypeError: Invalid executionsTable: "executions; DROP TABLE x"$/,
    );
    assert.throws(
      () => compileSqliteFilter('', types, { searchAttributesTable: 'a b' }),
      /^TypeError: Invalid searchAttributesTable/,
    );
  });

  test('the fragment can be combined with further conditions (an OR at the top is parenthesised)', () => {
    const { sql, params } = compileSqliteFilter(
      "WorkflowType = 'shipment' OR WorkflowType = 'refund'",
      types,
    );
    assert.deepEqual(
      db
        .prepare(`SELECT run_id FROM executions WHERE ${sql} AND status = ? ORDER BY run_id`)
        .pluck()
        .all(...params, 'Terminated'),
      ['r08', 'r10'],
    );
  });

  test('errors are ListQueryErrors, from the parser or the type checker', () => {
    assertListQueryError(
      () => compileSqliteFilter("CustomerId = 'a' AND", types),
      "CustomerId = 'a' AND",
      {
        detail: /^expected a condition .* at position 20 \(found the end of the query\)$/,
        position: 20,
      },
    );
    assertListQueryError(() => compileSqliteFilter("CustomerId = 'a'"), "CustomerId = 'a'", {
      detail: /^unknown search attribute 'CustomerId' at position 0; /,
      position: 0,
    });
    assert.throws(() => compileSqliteFilter('Amount = 1.5', types), ListQueryError);
  });
});

describe('compileSqliteFilter: queries on a real database', () => {
  test('an empty query returns every run', () => {
    assert.deepEqual(runs(''), ALL);
    assert.equal(count(''), 12);
  });

  test('built-in Keyword attributes', () => {
    assert.deepEqual(
      runs("WorkflowType = 'order' AND ExecutionStatus = 'Running' AND CustomerId = 'c-42'"),
      ['r01'],
    );
    assert.deepEqual(runs("WorkflowId = 'order-1'"), ['r01', 'r12']);
    assert.deepEqual(runs("WorkflowId = 'refund-''quoted'''"), ['r10']);
    assert.deepEqual(runs('WorkflowId = "refund-\\\'quoted\\\'"'), ['r10']);
    assert.deepEqual(runs("RunId IN ('r03', 'r05', 'nope')"), ['r03', 'r05']);
    assert.deepEqual(runs("TaskQueue != 'orders'"), ['r05', 'r06', 'r07', 'r08']);
    assert.deepEqual(runs("WorkflowType NOT IN ('order', 'refund')"), ['r05', 'r06', 'r07', 'r08']);
    assert.deepEqual(runs("WorkflowType > 'refund'"), ['r05', 'r06', 'r07', 'r08']);
    assert.deepEqual(runs("WorkflowId BETWEEN 'order-2' AND 'order-4'"), ['r02', 'r03', 'r04']);
    assert.deepEqual(runs("WorkflowType = 'ORDER'"), []);
  });

  test('ExecutionStatus', () => {
    assert.deepEqual(runs("ExecutionStatus = 'Running'"), ['r01', 'r02', 'r05']);
    assert.deepEqual(runs("ExecutionStatus IN ('Completed', 'Failed')"), [
      'r03',
      'r04',
      'r07',
      'r11',
    ]);
    assert.deepEqual(runs("ExecutionStatus != 'Running'"), except('r01', 'r02', 'r05'));
    assert.deepEqual(runs("ExecutionStatus NOT IN ('Running', 'Completed')"), [
      'r04',
      'r06',
      'r08',
      'r09',
      'r10',
      'r12',
    ]);
    assert.deepEqual(runs("ExecutionStatus = 'ContinuedAsNew'"), ['r12']);
    assert.deepEqual(runs("ExecutionStatus = 'TimedOut' OR ExecutionStatus = 'Canceled'"), [
      'r06',
      'r09',
    ]);
  });

  test('StartTime and CloseTime with RFC 3339 dates', () => {
    assert.deepEqual(runs("StartTime BETWEEN '2026-11-02T00:00:00Z' AND '2026-11-04T23:59:59Z'"), [
      'r02',
      'r03',
      'r04',
    ]);
    assert.deepEqual(runs("StartTime >= '2026-11-09T11:00:00+01:00'"), [
      'r09',
      'r10',
      'r11',
      'r12',
    ]);
    assert.deepEqual(runs("StartTime < '2026-11-02'"), ['r01']);
    assert.deepEqual(runs("StartTime BETWEEN '2026-11-30' AND '2026-11-30T23:59:59.999Z'"), [
      'r11',
    ]);
    assert.deepEqual(runs("StartTime = '2026-11-30T23:59:59.999Z'"), ['r11']);
    assert.deepEqual(runs("StartTime < '2026-12-01' AND StartTime > '2026-11-30'"), ['r11']);
    assert.deepEqual(runs("StartTime NOT BETWEEN '2026-11-02' AND '2026-11-30'"), [
      'r01',
      'r11',
      'r12',
    ]);
    assert.deepEqual(runs("CloseTime >= '2026-12-01'"), ['r11', 'r12']);
    assert.deepEqual(runs("CloseTime IN ('2026-11-03T12:00:00Z', '2026-11-07T10:00:00Z')"), [
      'r03',
      'r06',
    ]);
  });

  test('a run still open has no CloseTime: comparisons are false, their negations true', () => {
    const open = ['r01', 'r02', 'r05'];
    assert.deepEqual(runs('CloseTime IS NULL'), open);
    assert.deepEqual(runs('CloseTime IS NOT NULL'), except(...open));
    assert.deepEqual(runs("CloseTime < '2026-11-08'"), ['r03', 'r04', 'r06', 'r07']);
    assert.deepEqual(runs("NOT CloseTime < '2026-11-08'"), except('r03', 'r04', 'r06', 'r07'));
    assert.deepEqual(runs("CloseTime != '2026-12-01'"), except('r11', 'r12'));
    assert.deepEqual(runs("CloseTime NOT IN ('2026-12-01')"), except('r11', 'r12'));
    assert.deepEqual(runs("CloseTime NOT BETWEEN '2026-11-01' AND '2026-11-30'"), [
      'r01',
      'r02',
      'r05',
      'r11',
      'r12',
    ]);
    assert.deepEqual(runs("NOT (CloseTime > '2026-11-08' OR ExecutionStatus = 'Running')"), [
      'r03',
      'r04',
      'r06',
      'r07',
    ]);
  });

  test('HistoryLength', () => {
    assert.deepEqual(runs('HistoryLength > 30'), ['r03', 'r04', 'r12']);
    assert.deepEqual(runs('HistoryLength <= 4'), ['r05', 'r08', 'r10']);
    assert.deepEqual(runs('HistoryLength BETWEEN 5 AND 8'), ['r01', 'r06', 'r09']);
  });

  test('custom Keyword: exact, case-sensitive, kept as text (not the number 7)', () => {
    assert.deepEqual(runs("CustomerId = 'c-42'"), ['r01', 'r03', 'r04', 'r12']);
    assert.deepEqual(runs("CustomerId IN ('c-7', 'c-9')"), ['r02', 'r05', 'r09']);
    assert.deepEqual(runs("CustomerId = '007'"), ['r08']);
    assert.deepEqual(runs("CustomerId = '7'"), []);
    assert.deepEqual(runs("CustomerId STARTS_WITH 'C-'"), ['r07']);
    assert.deepEqual(runs("CustomerId >= 'c-7'"), ['r02', 'r05', 'r09']);
  });

  test('custom attributes a run lacks: != and NOT IN match it, = and IN do not', () => {
    const withoutCustomer = ['r06', 'r10', 'r11'];
    assert.deepEqual(runs('CustomerId IS NULL'), withoutCustomer);
    assert.deepEqual(runs('CustomerId IS NOT NULL'), except(...withoutCustomer));
    assert.deepEqual(runs("CustomerId != 'c-42'"), except('r01', 'r03', 'r04', 'r12'));
    assert.deepEqual(runs("NOT CustomerId = 'c-42'"), except('r01', 'r03', 'r04', 'r12'));
    assert.deepEqual(runs("CustomerId NOT IN ('c-42', 'c-7')"), [
      'r05',
      'r06',
      'r07',
      'r08',
      'r10',
      'r11',
    ]);
    assert.deepEqual(runs("CustomerId NOT STARTS_WITH 'c-'"), ['r06', 'r07', 'r08', 'r10', 'r11']);
  });

  test('STARTS_WITH treats %, _, *, ? and [ literally, and is case-sensitive', () => {
    assert.deepEqual(runs("WorkflowId STARTS_WITH 'order-'"), ['r01', 'r02', 'r03', 'r04', 'r12']);
    assert.deepEqual(runs("WorkflowId STARTS_WITH 'ship_'"), ['r07']);
    assert.deepEqual(runs("WorkflowId STARTS_WITH 'ship_%'"), ['r07']);
    assert.deepEqual(runs("WorkflowId STARTS_WITH '%'"), []);
    assert.deepEqual(runs("WorkflowId STARTS_WITH 'glob*'"), ['r08']);
    assert.deepEqual(runs("WorkflowId STARTS_WITH 'glob*[x]?'"), ['r08']);
    assert.deepEqual(runs("WorkflowId STARTS_WITH 'glob?'"), []);
    assert.deepEqual(runs("WorkflowId STARTS_WITH 'glob['"), []);
    assert.deepEqual(runs("WorkflowId STARTS_WITH 'Order-'"), []);
    assert.deepEqual(runs("WorkflowId STARTS_WITH ''"), ALL);
    assert.deepEqual(
      runs("WorkflowId NOT STARTS_WITH 'order-'"),
      except('r01', 'r02', 'r03', 'r04', 'r12'),
    );
  });

  test('KeywordList: = and IN test membership, != and NOT IN that no element matches', () => {
    assert.deepEqual(runs("Tags = 'vip'"), ['r01', 'r03', 'r10']);
    assert.deepEqual(runs("Tags IN ('eu', 'us')"), ['r01', 'r02', 'r05', 'r10']);
    assert.deepEqual(runs("Tags != 'vip'"), except('r01', 'r03', 'r10'));
    assert.deepEqual(runs("Tags NOT IN ('vip', 'eu')"), except('r01', 'r02', 'r03', 'r10'));
    assert.deepEqual(runs("Tags = 'vip' AND Tags = 'eu'"), ['r01']);
    assert.deepEqual(runs("Tags = 'vip' AND Tags != 'eu'"), ['r03', 'r10']);
    // r04 has an empty list: no rows, so like a run without the attribute.
    assert.deepEqual(runs('Tags IS NULL'), ['r04', 'r06', 'r07', 'r08', 'r09', 'r11', 'r12']);
  });

  test('Text: = matches whole words, ignoring case and word order', () => {
    assert.deepEqual(runs("Description = 'fox'"), ['r01', 'r09']);
    assert.deepEqual(runs("Description = 'FOX'"), ['r01', 'r09']);
    assert.deepEqual(runs("Description = 'foxes'"), ['r03']);
    assert.deepEqual(runs("Description = 'fo'"), []);
    assert.deepEqual(runs("Description = 'quick fox'"), ['r01']);
    assert.deepEqual(runs("Description = 'fox, rush!'"), ['r01']);
    assert.deepEqual(runs("Description = 'refund fox'"), ['r09']);
    assert.deepEqual(runs("Description = 'fox fragile'"), []);
    assert.deepEqual(runs("Description = 'asked:'"), ['r09']);
    assert.deepEqual(runs("Description = 'fragile'"), ['r05']);
    assert.deepEqual(runs("Description = 'f*'"), []);
    assert.deepEqual(runs("Description != 'fox'"), except('r01', 'r09'));
  });

  test('Int, Double, Bool and Datetime custom attributes', () => {
    assert.deepEqual(runs('Amount > 80'), ['r01', 'r02', 'r12']);
    assert.deepEqual(runs('Amount BETWEEN 75 AND 100'), ['r01', 'r03', 'r12']);
    assert.deepEqual(runs('Amount < 0'), ['r04']);
    assert.deepEqual(runs('Amount = 0'), ['r09']);
    assert.deepEqual(runs('Amount IN (100, 250)'), ['r01', 'r02', 'r12']);
    assert.deepEqual(runs('Amount != 100'), except('r01', 'r12'));
    assert.deepEqual(runs('Priority >= 1.5'), ['r01', 'r02', 'r11']);
    assert.deepEqual(runs('Priority = 2'), ['r02']);
    assert.deepEqual(runs('Priority < 1e0'), ['r04']);
    assert.deepEqual(runs('Priority BETWEEN -1 AND 1.5'), ['r01', 'r04']);
    assert.deepEqual(runs('Paid = true'), ['r01', 'r03']);
    assert.deepEqual(runs('Paid = FALSE'), ['r02', 'r10']);
    assert.deepEqual(runs('Paid != true'), except('r01', 'r03'));
    assert.deepEqual(runs("DueDate < '2026-11-15T00:00:00+01:00'"), ['r01']);
    assert.deepEqual(runs("DueDate >= '2026-11-20'"), ['r03', 'r11']);
    assert.deepEqual(runs("DueDate = '2026-12-01T01:00:00+01:00'"), ['r11']);
  });

  test('NOT, OR and parentheses', () => {
    assert.deepEqual(
      runs(
        "(WorkflowType = 'shipment' OR WorkflowType = 'refund') AND ExecutionStatus != 'Running'",
      ),
      ['r06', 'r07', 'r08', 'r09', 'r10'],
    );
    assert.deepEqual(
      runs("WorkflowType = 'shipment' OR WorkflowType = 'refund' AND ExecutionStatus = 'Canceled'"),
      ['r05', 'r06', 'r07', 'r08', 'r09'],
    );
    assert.deepEqual(runs("NOT WorkflowType = 'order'"), [
      'r05',
      'r06',
      'r07',
      'r08',
      'r09',
      'r10',
    ]);
    assert.deepEqual(runs("NOT NOT WorkflowType = 'refund'"), ['r09', 'r10']);
    assert.deepEqual(runs("NOT (CustomerId = 'c-42' OR Tags = 'vip') AND WorkflowType = 'order'"), [
      'r02',
      'r11',
    ]);
    assert.deepEqual(
      runs(
        "CustomerId = 'c-42' AND (Amount > 90 OR Paid = true) AND NOT ExecutionStatus = 'Running'",
      ),
      ['r03', 'r12'],
    );
    assert.deepEqual(
      runs("workflowtype = 'x' or WorkflowType = 'refund'", new Map([['workflowtype', 'Keyword']])),
      ['r09', 'r10'],
    );
  });

  test('count() uses the same fragment', () => {
    assert.equal(count("ExecutionStatus = 'Running'"), 3);
    assert.equal(count("Tags = 'vip' OR Description = 'fox'"), 4);
  });
});

// ---------------------------------------------------------------------------------------------
// Randomized: generated queries against the reference evaluator of the documented semantics.

describe('compileSqliteFilter: generated queries', () => {
  test('return exactly the runs the reference evaluator selects', () => {
    let nonTrivial = 0;
    for (const { query, expected } of generatedQueries(20261125, 600)) {
      assert.deepEqual(runs(query), expected, query);
      if (expected.length > 0 && expected.length < RUNS.length) nonTrivial++;
    }
    if (nonTrivial <= 200) assert.fail(`only ${nonTrivial} queries selected a proper subset`);
  });
});

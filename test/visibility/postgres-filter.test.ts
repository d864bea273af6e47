/**
 * The PostgreSQL compiler against the real server (127.0.0.1:5432, database `test`), in a schema of
 * its own dropped at the end: the dozen runs of `reference.ts` with their search attributes, and
 * for each query exactly the runs it must return (the same expectations as the SQLite test), then
 * generated queries against the reference evaluator, PostgreSQL specifics (code point order under a
 * non-C column collation, non-ASCII Text, U+0000 in values, placeholder numbering) and injection
 * attempts.
 *
 * The text columns are declared with the ICU root collation when the server has it (where `'a' <
 * 'B'`, `'_' < '-'` and `'é' < 'z'`), so that the tests fail if the compiler relied on the
 * database's default collation for code point order.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import {
  ListQueryError,
  parseListQuery,
  resolveListQuery,
  textWords,
} from '../../src/visibility/list-query.ts';
import { compilePostgresFilter } from '../../src/visibility/postgres-filter.ts';
import {
  SearchAttributeType,
  encodeSearchAttributeValue,
  type SearchAttributeTypes,
} from '../../src/visibility/search-attributes.ts';
import { assertListQueryError } from './helpers.ts';
import {
  ALL,
  RUNS,
  epochMs,
  evaluate,
  except,
  generatedQueries,
  types,
  type Run,
} from './reference.ts';

const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
const schema = `keel_vis_${randomBytes(6).toString('hex')}`;
/** The collation of the text columns: ICU's root collation if available, else the default. */
let collation = '';

const TEXT_TYPES: ReadonlySet<string> = new Set(['Keyword', 'Text', 'KeywordList']);

/** Creates an executions table and a search attributes table (as in the PostgreSQL schema). */
async function createTables(executions: string, searchAttributes: string): Promise<void> {
  await client.query(`
    CREATE TABLE ${executions} (
      run_id text${collation} PRIMARY KEY,
      workflow_id text${collation} NOT NULL,
      workflow_type text${collation} NOT NULL,
      task_queue text${collation} NOT NULL,
      status text${collation} NOT NULL,
      start_time bigint NOT NULL,
      close_time bigint,
      history_length integer NOT NULL
    );
    CREATE INDEX ${executions}_workflow_id ON ${executions} (workflow_id, start_time);
    CREATE TABLE ${searchAttributes} (
      run_id text${collation} NOT NULL,
      name text${collation} NOT NULL,
      value_text text${collation},
      value_num double precision
    );
    CREATE INDEX ${searchAttributes}_text ON ${searchAttributes} (name, value_text, run_id)
      WHERE value_text IS NOT NULL;
    CREATE INDEX ${searchAttributes}_num ON ${searchAttributes} (name, value_num, run_id)
      WHERE value_num IS NOT NULL;
  `);
}

async function insertRuns(
  executions: string,
  searchAttributes: string,
  runs: readonly Run[],
): Promise<void> {
  for (const run of runs) {
    await client.query(`INSERT INTO ${executions} VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
      run.runId,
      run.workflowId,
      run.workflowType,
      run.taskQueue,
      run.status,
      epochMs(run.startTime),
      epochMs(run.closeTime),
      run.historyLength,
    ]);
    for (const [name, value] of Object.entries(run.attributes)) {
      const type = types.get(name);
      assert.ok(type, name);
      for (const stored of encodeSearchAttributeValue(name, type, value)) {
        const text = TEXT_TYPES.has(type);
        await client.query(`INSERT INTO ${searchAttributes} VALUES ($1, $2, $3, $4)`, [
          run.runId,
          name,
          text ? stored : null,
          text ? null : stored,
        ]);
      }
    }
  }
}

/** A second pair of tables (queried through the table options). */
const EXTRA_TABLES = {
  executionsTable: 'executions_extra',
  searchAttributesTable: 'search_attributes_extra',
};

const extraRun = (runId: string, workflowId: string, attributes: Record<string, unknown>): Run => ({
  runId,
  workflowId,
  workflowType: 'extra',
  taskQueue: 'extra',
  status: 'Running',
  startTime: '2026-11-25T10:00:00Z',
  historyLength: 1,
  attributes,
});

/** Runs with non-ASCII values, in the second pair of tables. */
const EXTRA: Run[] = [
  extraRun('x1', 'a', {
    CustomerId: 'é',
    Description: 'Crème BRÛLÉE, café_au_lait',
    Tags: ['α', 'Ω'],
  }),
  extraRun('x2', 'a b', { CustomerId: 'z', Description: 'ÉCOLE école' }),
  extraRun('x3', 'ab', { CustomerId: 'E', Description: 'straße' }),
  extraRun('x4', 'b', { CustomerId: '\u{1F600}' }),
  extraRun('x5', 'B', { CustomerId: '\uFFFD' }),
];
const EXTRA_IDS = EXTRA.map((run) => run.runId);

before(async () => {
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.query(`SET search_path TO ${schema}`);
  const icu = await client.query("SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'");
  if (icu.rowCount === 1) collation = ' COLLATE "und-x-icu"';
  await createTables('executions', 'search_attributes');
  await insertRuns('executions', 'search_attributes', RUNS);
  await createTables(EXTRA_TABLES.executionsTable, EXTRA_TABLES.searchAttributesTable);
  await insertRuns(EXTRA_TABLES.executionsTable, EXTRA_TABLES.searchAttributesTable, EXTRA);
});

after(async () => {
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
});

/** The run ids the query selects, in order. */
async function runs(query: string, registry: SearchAttributeTypes = types): Promise<string[]> {
  const { sql, params } = compilePostgresFilter(query, registry);
  const result = await client.query<{ run_id: string }>(
    `SELECT run_id FROM executions WHERE ${sql} ORDER BY run_id COLLATE "C"`,
    params,
  );
  return result.rows.map((row) => row.run_id);
}

async function count(query: string): Promise<number> {
  const { sql, params } = compilePostgresFilter(query, types);
  const result = await client.query<{ count: number }>(
    `SELECT count(*)::integer AS count FROM executions WHERE ${sql}`,
    params,
  );
  return result.rows[0]!.count;
}

describe('compilePostgresFilter: SQL', () => {
  test('built-ins are qualified columns, custom attributes EXISTS subqueries, values $n parameters', () => {
    assert.deepEqual(
      compilePostgresFilter(
        "WorkflowType = 'order' AND ExecutionStatus = 'Running' AND CustomerId = 'c-42' AND Amount > 5",
        types,
      ),
      {
        sql:
          'executions.workflow_type = $1 AND executions.status = $2 AND ' +
          'EXISTS (SELECT 1 FROM search_attributes sa WHERE sa.run_id = executions.run_id AND sa.name = $3 AND sa.value_text = $4) AND ' +
          'EXISTS (SELECT 1 FROM search_attributes sa WHERE sa.run_id = executions.run_id AND sa.name = $5 AND sa.value_num > $6::double precision)',
        params: ['order', 'Running', 'CustomerId', 'c-42', 'Amount', 5],
      },
    );
  });

  test('negated and NULL tests on custom attributes are NOT EXISTS', () => {
    assert.deepEqual(compilePostgresFilter("Tags NOT IN ('a', 'b') OR Paid IS NULL", types), {
      sql:
        '(NOT EXISTS (SELECT 1 FROM search_attributes sa WHERE sa.run_id = executions.run_id AND sa.name = $1 AND sa.value_text IN ($2, $3))' +
        ' OR NOT EXISTS (SELECT 1 FROM search_attributes sa WHERE sa.run_id = executions.run_id AND sa.name = $4))',
      params: ['Tags', 'a', 'b', 'Paid'],
    });
  });

  test('Keyword order and STARTS_WITH are in the C collation, numbers cast, CloseTime two-valued', () => {
    assert.deepEqual(
      compilePostgresFilter(
        "WorkflowId > 'a' AND WorkflowId NOT BETWEEN 'b' AND 'c' AND NOT WorkflowId STARTS_WITH 'd' AND HistoryLength <= 7 AND CloseTime != '2026-01-01'",
        types,
      ),
      {
        sql:
          'executions.workflow_id COLLATE "C" > $1 AND executions.workflow_id COLLATE "C" NOT BETWEEN $2 AND $3 AND ' +
          'NOT (starts_with(executions.workflow_id COLLATE "C", $4)) AND executions.history_length <= $5::bigint AND ' +
          '(executions.close_time IS NULL OR executions.close_time <> $6::bigint)',
        params: ['a', 'b', 'c', 'd', 7, Date.parse('2026-01-01T00:00:00Z')],
      },
    );
  });

  test('Text = is one regular expression per word on the ASCII-lower-cased text', () => {
    const nonWord = '[\\u0001-\\u002f\\u003a-\\u0040\\u005b-\\u005e\\u0060\\u007b-\\u007f]';
    const text =
      "translate(sa.value_text, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE \"C\"";
    assert.deepEqual(compilePostgresFilter("Description != 'Quick, FOX!'", types), {
      sql:
        'NOT EXISTS (SELECT 1 FROM search_attributes sa WHERE sa.run_id = executions.run_id AND sa.name = $1 AND ' +
        `(${text} ~ $2 AND ${text} ~ $3))`,
      params: [
        'Description',
        `(^|${nonWord})quick($|${nonWord})`,
        `(^|${nonWord})fox($|${nonWord})`,
      ],
    });
  });

  test('an empty query is TRUE', () => {
    assert.deepEqual(compilePostgresFilter(''), { sql: 'TRUE', params: [] });
    assert.deepEqual(compilePostgresFilter(' \n ', types, { firstParameter: 4 }), {
      sql: 'TRUE',
      params: [],
    });
  });

  test('a parsed query can be passed instead of the text', () => {
    const parsed = parseListQuery("WorkflowId = 'order-1'");
    assert.deepEqual(
      compilePostgresFilter(parsed),
      compilePostgresFilter("WorkflowId = 'order-1'"),
    );
  });

  test('placeholders start at firstParameter, after the caller’s own parameters', async () => {
    const { sql, params } = compilePostgresFilter(
      "CustomerId IN ('c-7', 'c-42') OR WorkflowType = 'refund'",
      types,
      { firstParameter: 3 },
    );
    assert.match(
      sql,
      /^\(EXISTS .*sa\.name = \$3 AND sa\.value_text IN \(\$4, \$5\)\) OR executions\.workflow_type = \$6\)$/,
    );
    assert.deepEqual(params, ['CustomerId', 'c-7', 'c-42', 'refund']);
    const result = await client.query<{ run_id: string }>(
      `SELECT run_id FROM executions WHERE task_queue = $1 AND history_length > $2 AND ${sql} ORDER BY run_id`,
      ['orders', 5, ...params],
    );
    assert.deepEqual(
      result.rows.map((row) => row.run_id),
      ['r02', 'r03', 'r04', 'r09', 'r12'],
    );
    for (const firstParameter of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => compilePostgresFilter('', types, { firstParameter }),
        /^TypeError: Invalid firstParameter: .* \(expected a positive integer\)$/,
      );
    }
  });

  test('table names are options: identifiers, optionally schema-qualified', async () => {
    const { sql, params } = compilePostgresFilter(
      "CustomerId = 'c-7' AND TaskQueue = 'orders'",
      types,
      { executionsTable: 'e' },
    );
    assert.match(sql, /sa\.run_id = e\.run_id/);
    const aliased = await client.query<{ run_id: string }>(
      `SELECT e.run_id FROM executions e WHERE ${sql} ORDER BY 1`,
      params,
    );
    assert.deepEqual(
      aliased.rows.map((row) => row.run_id),
      ['r02', 'r09'],
    );
    // An executions alias `sa` does not clash with the subquery's alias.
    const sa = compilePostgresFilter("CustomerId = 'c-7' AND Tags != 'eu'", types, {
      executionsTable: 'sa',
    });
    assert.match(sa.sql, /FROM search_attributes sa_ WHERE sa_\.run_id = sa\.run_id/);
    const clash = await client.query<{ run_id: string }>(
      `SELECT sa.run_id FROM executions sa WHERE ${sa.sql} ORDER BY 1`,
      sa.params,
    );
    assert.deepEqual(
      clash.rows.map((row) => row.run_id),
      ['r09'],
    );
    const qualified = compilePostgresFilter("Tags = 'vip' AND WorkflowType = 'order'", types, {
      executionsTable: `${schema}.executions`,
      searchAttributesTable: `${schema}.search_attributes`,
    });
    assert.match(qualified.sql, new RegExp(`FROM ${schema}\\.search_attributes sa `));
    const result = await client.query<{ run_id: string }>(
      `SELECT run_id FROM ${schema}.executions WHERE ${qualified.sql} ORDER BY 1`,
      qualified.params,
    );
    assert.deepEqual(
      result.rows.map((row) => row.run_id),
      ['r01', 'r03'],
    );
    assert.throws(
      () => compilePostgresFilter('', types, { executionsTable: 'executions; DROP TABLE x' }),
      /^TypeError: Invalid executionsTable: "executions; DROP TABLE x"$/,
    );
    for (const searchAttributesTable of ['a b', 'a.b.c', '"x"', '1a', '']) {
      assert.throws(
        () => compilePostgresFilter('', types, { searchAttributesTable }),
        /^TypeError: Invalid searchAttributesTable/,
      );
    }
  });

  test('the fragment can be combined with further conditions (an OR at the top is parenthesised)', async () => {
    const { sql, params } = compilePostgresFilter(
      "WorkflowType = 'shipment' OR WorkflowType = 'refund'",
      types,
    );
    const result = await client.query<{ run_id: string }>(
      `SELECT run_id FROM executions WHERE ${sql} AND status = $${params.length + 1} ORDER BY run_id`,
      [...params, 'Terminated'],
    );
    assert.deepEqual(
      result.rows.map((row) => row.run_id),
      ['r08', 'r10'],
    );
  });

  test('errors are ListQueryErrors, from the parser or the type checker', () => {
    assertListQueryError(
      () => compilePostgresFilter("CustomerId = 'a' AND", types),
      "CustomerId = 'a' AND",
      {
        detail: /^expected a condition .* at position 20 \(found the end of the query\)$/,
        position: 20,
      },
    );
    assertListQueryError(() => compilePostgresFilter("CustomerId = 'a'"), "CustomerId = 'a'", {
      detail: /^unknown search attribute 'CustomerId' at position 0; /,
      position: 0,
    });
    assert.throws(() => compilePostgresFilter('Amount = 1.5', types), ListQueryError);
  });
});

describe('compilePostgresFilter: queries on a real database', () => {
  test('an empty query returns every run', async () => {
    assert.deepEqual(await runs(''), ALL);
    assert.equal(await count(''), 12);
  });

  test('built-in Keyword attributes', async () => {
    assert.deepEqual(
      await runs("WorkflowType = 'order' AND ExecutionStatus = 'Running' AND CustomerId = 'c-42'"),
      ['r01'],
    );
    assert.deepEqual(await runs("WorkflowId = 'order-1'"), ['r01', 'r12']);
    assert.deepEqual(await runs("WorkflowId = 'refund-''quoted'''"), ['r10']);
    assert.deepEqual(await runs('WorkflowId = "refund-\\\'quoted\\\'"'), ['r10']);
    assert.deepEqual(await runs("RunId IN ('r03', 'r05', 'nope')"), ['r03', 'r05']);
    assert.deepEqual(await runs("TaskQueue != 'orders'"), ['r05', 'r06', 'r07', 'r08']);
    assert.deepEqual(await runs("WorkflowType NOT IN ('order', 'refund')"), [
      'r05',
      'r06',
      'r07',
      'r08',
    ]);
    assert.deepEqual(await runs("WorkflowType > 'refund'"), ['r05', 'r06', 'r07', 'r08']);
    assert.deepEqual(await runs("WorkflowId BETWEEN 'order-2' AND 'order-4'"), [
      'r02',
      'r03',
      'r04',
    ]);
    assert.deepEqual(await runs("WorkflowType = 'ORDER'"), []);
  });

  test('ExecutionStatus', async () => {
    assert.deepEqual(await runs("ExecutionStatus = 'Running'"), ['r01', 'r02', 'r05']);
    assert.deepEqual(await runs("ExecutionStatus IN ('Completed', 'Failed')"), [
      'r03',
      'r04',
      'r07',
      'r11',
    ]);
    assert.deepEqual(await runs("ExecutionStatus != 'Running'"), except('r01', 'r02', 'r05'));
    assert.deepEqual(await runs("ExecutionStatus NOT IN ('Running', 'Completed')"), [
      'r04',
      'r06',
      'r08',
      'r09',
      'r10',
      'r12',
    ]);
    assert.deepEqual(await runs("ExecutionStatus = 'ContinuedAsNew'"), ['r12']);
    assert.deepEqual(await runs("ExecutionStatus = 'TimedOut' OR ExecutionStatus = 'Canceled'"), [
      'r06',
      'r09',
    ]);
  });

  test('StartTime and CloseTime with RFC 3339 dates', async () => {
    assert.deepEqual(
      await runs("StartTime BETWEEN '2026-11-02T00:00:00Z' AND '2026-11-04T23:59:59Z'"),
      ['r02', 'r03', 'r04'],
    );
    assert.deepEqual(await runs("StartTime >= '2026-11-09T11:00:00+01:00'"), [
      'r09',
      'r10',
      'r11',
      'r12',
    ]);
    assert.deepEqual(await runs("StartTime < '2026-11-02'"), ['r01']);
    assert.deepEqual(await runs("StartTime BETWEEN '2026-11-30' AND '2026-11-30T23:59:59.999Z'"), [
      'r11',
    ]);
    assert.deepEqual(await runs("StartTime = '2026-11-30T23:59:59.999Z'"), ['r11']);
    assert.deepEqual(await runs("StartTime < '2026-12-01' AND StartTime > '2026-11-30'"), ['r11']);
    assert.deepEqual(await runs("StartTime NOT BETWEEN '2026-11-02' AND '2026-11-30'"), [
      'r01',
      'r11',
      'r12',
    ]);
    assert.deepEqual(await runs("CloseTime >= '2026-12-01'"), ['r11', 'r12']);
    assert.deepEqual(await runs("CloseTime IN ('2026-11-03T12:00:00Z', '2026-11-07T10:00:00Z')"), [
      'r03',
      'r06',
    ]);
  });

  test('a run still open has no CloseTime: comparisons are false, their negations true', async () => {
    const open = ['r01', 'r02', 'r05'];
    assert.deepEqual(await runs('CloseTime IS NULL'), open);
    assert.deepEqual(await runs('CloseTime IS NOT NULL'), except(...open));
    assert.deepEqual(await runs("CloseTime < '2026-11-08'"), ['r03', 'r04', 'r06', 'r07']);
    assert.deepEqual(
      await runs("NOT CloseTime < '2026-11-08'"),
      except('r03', 'r04', 'r06', 'r07'),
    );
    assert.deepEqual(await runs("CloseTime != '2026-12-01'"), except('r11', 'r12'));
    assert.deepEqual(await runs("CloseTime NOT IN ('2026-12-01')"), except('r11', 'r12'));
    assert.deepEqual(await runs("CloseTime NOT BETWEEN '2026-11-01' AND '2026-11-30'"), [
      'r01',
      'r02',
      'r05',
      'r11',
      'r12',
    ]);
    assert.deepEqual(await runs("NOT (CloseTime > '2026-11-08' OR ExecutionStatus = 'Running')"), [
      'r03',
      'r04',
      'r06',
      'r07',
    ]);
  });

  test('HistoryLength', async () => {
    assert.deepEqual(await runs('HistoryLength > 30'), ['r03', 'r04', 'r12']);
    assert.deepEqual(await runs('HistoryLength <= 4'), ['r05', 'r08', 'r10']);
    assert.deepEqual(await runs('HistoryLength BETWEEN 5 AND 8'), ['r01', 'r06', 'r09']);
  });

  test('custom Keyword: exact, case-sensitive, kept as text (not the number 7)', async () => {
    assert.deepEqual(await runs("CustomerId = 'c-42'"), ['r01', 'r03', 'r04', 'r12']);
    assert.deepEqual(await runs("CustomerId IN ('c-7', 'c-9')"), ['r02', 'r05', 'r09']);
    assert.deepEqual(await runs("CustomerId = '007'"), ['r08']);
    assert.deepEqual(await runs("CustomerId = '7'"), []);
    assert.deepEqual(await runs("CustomerId STARTS_WITH 'C-'"), ['r07']);
    assert.deepEqual(await runs("CustomerId >= 'c-7'"), ['r02', 'r05', 'r09']);
  });

  test('custom attributes a run lacks: != and NOT IN match it, = and IN do not', async () => {
    const withoutCustomer = ['r06', 'r10', 'r11'];
    assert.deepEqual(await runs('CustomerId IS NULL'), withoutCustomer);
    assert.deepEqual(await runs('CustomerId IS NOT NULL'), except(...withoutCustomer));
    assert.deepEqual(await runs("CustomerId != 'c-42'"), except('r01', 'r03', 'r04', 'r12'));
    assert.deepEqual(await runs("NOT CustomerId = 'c-42'"), except('r01', 'r03', 'r04', 'r12'));
    assert.deepEqual(await runs("CustomerId NOT IN ('c-42', 'c-7')"), [
      'r05',
      'r06',
      'r07',
      'r08',
      'r10',
      'r11',
    ]);
    assert.deepEqual(await runs("CustomerId NOT STARTS_WITH 'c-'"), [
      'r06',
      'r07',
      'r08',
      'r10',
      'r11',
    ]);
  });

  test('STARTS_WITH treats %, _, *, ? and [ literally, and is case-sensitive', async () => {
    assert.deepEqual(await runs("WorkflowId STARTS_WITH 'order-'"), [
      'r01',
      'r02',
      'r03',
      'r04',
      'r12',
    ]);
    assert.deepEqual(await runs("WorkflowId STARTS_WITH 'ship_'"), ['r07']);
    assert.deepEqual(await runs("WorkflowId STARTS_WITH 'ship_%'"), ['r07']);
    assert.deepEqual(await runs("WorkflowId STARTS_WITH '%'"), []);
    assert.deepEqual(await runs("WorkflowId STARTS_WITH 'glob*'"), ['r08']);
    assert.deepEqual(await runs("WorkflowId STARTS_WITH 'glob*[x]?'"), ['r08']);
    assert.deepEqual(await runs("WorkflowId STARTS_WITH 'glob?'"), []);
    assert.deepEqual(await runs("WorkflowId STARTS_WITH 'glob['"), []);
    assert.deepEqual(await runs("WorkflowId STARTS_WITH 'Order-'"), []);
    assert.deepEqual(await runs("WorkflowId STARTS_WITH ''"), ALL);
    assert.deepEqual(
      await runs("WorkflowId NOT STARTS_WITH 'order-'"),
      except('r01', 'r02', 'r03', 'r04', 'r12'),
    );
  });

  test('KeywordList: = and IN test membership, != and NOT IN that no element matches', async () => {
    assert.deepEqual(await runs("Tags = 'vip'"), ['r01', 'r03', 'r10']);
    assert.deepEqual(await runs("Tags IN ('eu', 'us')"), ['r01', 'r02', 'r05', 'r10']);
    assert.deepEqual(await runs("Tags != 'vip'"), except('r01', 'r03', 'r10'));
    assert.deepEqual(await runs("Tags NOT IN ('vip', 'eu')"), except('r01', 'r02', 'r03', 'r10'));
    assert.deepEqual(await runs("Tags = 'vip' AND Tags = 'eu'"), ['r01']);
    assert.deepEqual(await runs("Tags = 'vip' AND Tags != 'eu'"), ['r03', 'r10']);
    // r04 has an empty list: no rows, so like a run without the attribute.
    assert.deepEqual(await runs('Tags IS NULL'), ['r04', 'r06', 'r07', 'r08', 'r09', 'r11', 'r12']);
  });

  test('Text: = matches whole words, ignoring case and word order', async () => {
    assert.deepEqual(await runs("Description = 'fox'"), ['r01', 'r09']);
    assert.deepEqual(await runs("Description = 'FOX'"), ['r01', 'r09']);
    assert.deepEqual(await runs("Description = 'foxes'"), ['r03']);
    assert.deepEqual(await runs("Description = 'fo'"), []);
    assert.deepEqual(await runs("Description = 'quick fox'"), ['r01']);
    assert.deepEqual(await runs("Description = 'fox, rush!'"), ['r01']);
    assert.deepEqual(await runs("Description = 'refund fox'"), ['r09']);
    assert.deepEqual(await runs("Description = 'fox fragile'"), []);
    assert.deepEqual(await runs("Description = 'asked:'"), ['r09']);
    assert.deepEqual(await runs("Description = 'fragile'"), ['r05']);
    assert.deepEqual(await runs("Description = 'f*'"), []);
    assert.deepEqual(await runs("Description != 'fox'"), except('r01', 'r09'));
  });

  test('Int, Double, Bool and Datetime custom attributes', async () => {
    assert.deepEqual(await runs('Amount > 80'), ['r01', 'r02', 'r12']);
    assert.deepEqual(await runs('Amount BETWEEN 75 AND 100'), ['r01', 'r03', 'r12']);
    assert.deepEqual(await runs('Amount < 0'), ['r04']);
    assert.deepEqual(await runs('Amount = 0'), ['r09']);
    assert.deepEqual(await runs('Amount IN (100, 250)'), ['r01', 'r02', 'r12']);
    assert.deepEqual(await runs('Amount != 100'), except('r01', 'r12'));
    assert.deepEqual(await runs('Priority >= 1.5'), ['r01', 'r02', 'r11']);
    assert.deepEqual(await runs('Priority = 2'), ['r02']);
    assert.deepEqual(await runs('Priority < 1e0'), ['r04']);
    assert.deepEqual(await runs('Priority BETWEEN -1 AND 1.5'), ['r01', 'r04']);
    assert.deepEqual(await runs('Paid = true'), ['r01', 'r03']);
    assert.deepEqual(await runs('Paid = FALSE'), ['r02', 'r10']);
    assert.deepEqual(await runs('Paid != true'), except('r01', 'r03'));
    assert.deepEqual(await runs("DueDate < '2026-11-15T00:00:00+01:00'"), ['r01']);
    assert.deepEqual(await runs("DueDate >= '2026-11-20'"), ['r03', 'r11']);
    assert.deepEqual(await runs("DueDate = '2026-12-01T01:00:00+01:00'"), ['r11']);
  });

  test('NOT, OR and parentheses', async () => {
    assert.deepEqual(
      await runs(
        "(WorkflowType = 'shipment' OR WorkflowType = 'refund') AND ExecutionStatus != 'Running'",
      ),
      ['r06', 'r07', 'r08', 'r09', 'r10'],
    );
    assert.deepEqual(
      await runs(
        "WorkflowType = 'shipment' OR WorkflowType = 'refund' AND ExecutionStatus = 'Canceled'",
      ),
      ['r05', 'r06', 'r07', 'r08', 'r09'],
    );
    assert.deepEqual(await runs("NOT WorkflowType = 'order'"), [
      'r05',
      'r06',
      'r07',
      'r08',
      'r09',
      'r10',
    ]);
    assert.deepEqual(await runs("NOT NOT WorkflowType = 'refund'"), ['r09', 'r10']);
    assert.deepEqual(
      await runs("NOT (CustomerId = 'c-42' OR Tags = 'vip') AND WorkflowType = 'order'"),
      ['r02', 'r11'],
    );
    assert.deepEqual(
      await runs(
        "CustomerId = 'c-42' AND (Amount > 90 OR Paid = true) AND NOT ExecutionStatus = 'Running'",
      ),
      ['r03', 'r12'],
    );
    assert.deepEqual(
      await runs(
        "workflowtype = 'x' or WorkflowType = 'refund'",
        new Map([['workflowtype', 'Keyword']]),
      ),
      ['r09', 'r10'],
    );
  });

  test('count() uses the same fragment', async () => {
    assert.equal(await count("ExecutionStatus = 'Running'"), 3);
    assert.equal(await count("Tags = 'vip' OR Description = 'fox'"), 4);
  });
});

describe('compilePostgresFilter: code point order whatever the column collation', () => {
  test('Keyword comparisons and BETWEEN order by code point (upper case before lower case, - before _)', async () => {
    assert.deepEqual(await runs("CustomerId < 'c'"), ['r07', 'r08']);
    assert.deepEqual(await runs("CustomerId BETWEEN 'C' AND 'c'"), ['r07']);
    assert.deepEqual(await runs("WorkflowId >= 'ship_'"), ['r07']);
    assert.deepEqual(await runs("WorkflowId < 'ship_' AND WorkflowId > 'ship'"), ['r05', 'r06']);
    assert.deepEqual(await runs("WorkflowId BETWEEN 'glob*' AND 'globZ'"), ['r08', 'r11']);
    assert.deepEqual(await runs("WorkflowType < 'Order'"), []);
    assert.deepEqual(await runs("WorkflowType NOT BETWEEN 'Order' AND 'Shipment'"), ALL);
  });
});

// ---------------------------------------------------------------------------------------------
// Non-ASCII values and U+0000, on the second pair of tables.

async function extraRuns(query: string, registry: SearchAttributeTypes = types): Promise<string[]> {
  const { sql, params } = compilePostgresFilter(query, registry, EXTRA_TABLES);
  const result = await client.query<{ run_id: string }>(
    `SELECT run_id FROM ${EXTRA_TABLES.executionsTable} WHERE ${sql} ORDER BY run_id COLLATE "C"`,
    params,
  );
  return result.rows.map((row) => row.run_id);
}

/** Asserts that PostgreSQL and the reference evaluator both select exactly `expected`. */
async function assertExtra(query: string, expected: string[]): Promise<void> {
  const { filter } = resolveListQuery(query, types);
  assert.deepEqual(
    EXTRA.filter((run) => evaluate(filter, run)).map((run) => run.runId),
    expected,
    `reference: ${JSON.stringify(query)}`,
  );
  assert.deepEqual(await extraRuns(query), expected, JSON.stringify(query));
}

describe('compilePostgresFilter: non-ASCII values', () => {
  test('Text = ignores the case of ASCII letters only, and words run through non-ASCII letters and _', async () => {
    await assertExtra("Description = 'crème'", ['x1']);
    await assertExtra("Description = 'CRÈME'", []);
    await assertExtra("Description = 'BRÛLÉE'", ['x1']);
    await assertExtra("Description = 'bRÛlÉe crÈme'", []);
    await assertExtra("Description = 'brûlée'", []);
    await assertExtra("Description = 'café'", []);
    await assertExtra("Description = 'Café_Au_Lait'", ['x1']);
    await assertExtra("Description = 'école ÉCOLE'", ['x2']);
    await assertExtra("Description = 'Ecole'", []);
    await assertExtra("Description = 'STRAßE'", ['x3']);
    await assertExtra("Description = 'strasse'", []);
    await assertExtra("Description != 'école'", ['x1', 'x3', 'x4', 'x5']);
  });

  test('Keyword order is by code point, beyond the BMP too', async () => {
    await assertExtra("CustomerId > 'z'", ['x1', 'x4', 'x5']);
    await assertExtra("CustomerId < 'e'", ['x3']);
    await assertExtra("WorkflowId < 'a b'", ['x1', 'x5']);
    // U+1F600 is after U+FFFD by code point, but before it in UTF-16 (so not by JavaScript's <).
    assert.deepEqual(await extraRuns("CustomerId > '\uFFFD'"), ['x4']);
    assert.deepEqual(await extraRuns("CustomerId BETWEEN '\uFFFD' AND '\u{1F600}'"), ['x4', 'x5']);
  });

  test('STARTS_WITH and KeywordList elements are exact for non-ASCII letters', async () => {
    await assertExtra("CustomerId STARTS_WITH 'é'", ['x1']);
    await assertExtra("CustomerId STARTS_WITH 'É'", []);
    await assertExtra("CustomerId STARTS_WITH 'e'", []);
    await assertExtra("CustomerId STARTS_WITH '\u{1F600}'", ['x4']);
    await assertExtra("Tags = 'α'", ['x1']);
    await assertExtra("Tags = 'Α'", []);
    await assertExtra("Tags NOT IN ('ω')", EXTRA_IDS);
  });
});

describe('compilePostgresFilter: U+0000, which PostgreSQL text cannot hold', () => {
  test('is never sent, and the query means what it means against values without it', async () => {
    const { sql, params } = compilePostgresFilter(
      "WorkflowId < 'a\0b' OR WorkflowId IN ('a\0', 'b') OR WorkflowId STARTS_WITH '\0'",
      types,
    );
    assert.equal(
      sql,
      '(executions.workflow_id COLLATE "C" <= $1 OR executions.workflow_id IN ($2) OR FALSE)',
    );
    assert.deepEqual(params, ['a', 'b']);
    await assertExtra("WorkflowId = 'a\0'", []);
    await assertExtra("WorkflowId != 'a\0'", EXTRA_IDS);
    await assertExtra("WorkflowId < 'a\0b'", ['x1', 'x5']);
    await assertExtra("WorkflowId <= 'a\0'", ['x1', 'x5']);
    await assertExtra("WorkflowId > 'a\0'", ['x2', 'x3', 'x4']);
    await assertExtra("WorkflowId >= 'a\0b'", ['x2', 'x3', 'x4']);
    await assertExtra("NOT WorkflowId < 'a\0b'", ['x2', 'x3', 'x4']);
    await assertExtra("WorkflowId BETWEEN 'a\0' AND 'ab\0'", ['x2', 'x3']);
    await assertExtra("WorkflowId NOT BETWEEN 'a\0' AND 'ab\0'", ['x1', 'x4', 'x5']);
    await assertExtra("WorkflowId BETWEEN 'a' AND 'a\0'", ['x1']);
    await assertExtra("WorkflowId IN ('a\0', 'b')", ['x4']);
    await assertExtra("WorkflowId IN ('a\0')", []);
    await assertExtra("WorkflowId NOT IN ('a\0')", EXTRA_IDS);
    await assertExtra("WorkflowId STARTS_WITH 'a\0'", []);
    await assertExtra("WorkflowId NOT STARTS_WITH 'a\0'", EXTRA_IDS);
    await assertExtra("CustomerId = '\0'", []);
    await assertExtra("CustomerId != '\0'", EXTRA_IDS);
    await assertExtra("CustomerId > '\0'", ['x1', 'x2', 'x3', 'x4', 'x5']);
    await assertExtra("Tags IN ('α\0', 'Ω')", ['x1']);
    await assertExtra("Description = 'crème\0BRÛLÉE'", ['x1']);
  });

  test('in an attribute name, as the run lacking the attribute', async () => {
    const registry: SearchAttributeTypes = new Map([['a\0b', SearchAttributeType.KEYWORD]]);
    assert.deepEqual(compilePostgresFilter("`a\0b` = 'x' OR `a\0b` IS NULL", registry), {
      sql: '(FALSE OR TRUE)',
      params: [],
    });
    assert.deepEqual(await extraRuns("`a\0b` = 'x'", registry), []);
    assert.deepEqual(await extraRuns('`a\0b` IS NULL', registry), EXTRA_IDS);
  });
});

// ---------------------------------------------------------------------------------------------

describe('compilePostgresFilter: injection attempts stay values', () => {
  const attempts = [
    "x' OR 1=1 --",
    "'; DROP TABLE executions; --",
    '$1',
    '$1 OR TRUE',
    '$$ OR TRUE $$',
    "\\'; SELECT pg_sleep(10); --",
    "E'\\x27 OR ''='",
    '" OR ""="',
    ') OR (1=1',
    '*/ OR 1=1 /*',
  ];
  /** The attempt as a string literal of the query language. */
  const quote = (value: string) => `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
  const shapes = [
    (v: string) => `WorkflowId = ${v}`,
    (v: string) => `CustomerId = ${v}`,
    (v: string) => `WorkflowId IN ('a', ${v})`,
    (v: string) => `WorkflowId STARTS_WITH ${v}`,
    (v: string) => `Tags != ${v}`,
    (v: string) => `CustomerId > ${v}`,
    (v: string) => `WorkflowId NOT BETWEEN ${v} AND ${v}`,
  ];

  test('the SQL does not depend on the values, which are parameters as given', async () => {
    for (const attempt of attempts) {
      for (const shape of shapes) {
        const query = shape(quote(attempt));
        const { sql, params } = compilePostgresFilter(query, types);
        assert.equal(sql, compilePostgresFilter(shape("'harmless'"), types).sql, query);
        assert.equal(params.includes(attempt), true, `${query}: ${JSON.stringify(params)}`);
        const { filter } = resolveListQuery(query, types);
        assert.deepEqual(
          await runs(query),
          RUNS.filter((run) => evaluate(filter, run)).map((run) => run.runId),
          query,
        );
      }
      // A Text value is split into words, each a parameter holding only word characters.
      const text = `Description = ${quote(attempt)}`;
      if (textWords(attempt).length > 0) {
        const { sql, params } = compilePostgresFilter(text, types);
        const words = textWords(attempt)
          .map(() => 'w')
          .join(' ');
        assert.equal(sql, compilePostgresFilter(`Description = '${words}'`, types).sql, text);
        assert.equal(params.length, 1 + textWords(attempt).length);
        assert.deepEqual(await runs(text), [], text);
      }
    }
  });

  test('in an attribute name (quoted with backticks), the name is a parameter', async () => {
    const name = "x'); DROP TABLE executions; --";
    const registry: SearchAttributeTypes = new Map([[name, SearchAttributeType.KEYWORD]]);
    const query = `\`${name}\` = 'a' OR \`${name}\` IS NULL`;
    const { sql, params } = compilePostgresFilter(query, registry);
    assert.doesNotMatch(sql, /DROP|'/);
    assert.deepEqual(params, [name, 'a', name]);
    assert.deepEqual(await runs(query, registry), ALL);
  });

  test('the tables are intact afterwards', async () => {
    assert.equal(await count(''), 12);
    const rows = await client.query<{ count: number }>(
      'SELECT count(*)::integer AS count FROM search_attributes',
    );
    const stored = RUNS.flatMap((run) =>
      Object.entries(run.attributes).flatMap(([name, value]) =>
        encodeSearchAttributeValue(name, types.get(name)!, value),
      ),
    );
    assert.equal(rows.rows[0]!.count, stored.length);
  });
});

// ---------------------------------------------------------------------------------------------
// Randomized: generated queries against the reference evaluator of the documented semantics.

describe('compilePostgresFilter: generated queries', () => {
  for (const seed of [20261125, 7]) {
    test(`return exactly the runs the reference evaluator selects (seed ${seed})`, async () => {
      let nonTrivial = 0;
      for (const { query, expected } of generatedQueries(seed, 600)) {
        assert.deepEqual(await runs(query), expected, query);
        if (expected.length > 0 && expected.length < RUNS.length) nonTrivial++;
      }
      if (nonTrivial <= 200) assert.fail(`only ${nonTrivial} queries selected a proper subset`);
    });
  }
});

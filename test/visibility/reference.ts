/**
 * Shared by the SQL compiler tests (SQLite, PostgreSQL): the custom search attributes, a dozen runs
 * with their attributes, a reference evaluator written directly from the documented semantics of
 * the query language (see `list-query.ts`), and a generator of random queries over those runs.
 */
import {
  resolveListQuery,
  textWords,
  type Filter,
  type PredicateTest,
  type Scalar,
} from '../../src/visibility/list-query.ts';
import {
  SearchAttributeType,
  encodeSearchAttributeValue,
  type SearchAttributeTypes,
} from '../../src/visibility/search-attributes.ts';

/** The custom search attributes of the test runs. */
export const types: SearchAttributeTypes = new Map([
  ['CustomerId', SearchAttributeType.KEYWORD],
  ['Description', SearchAttributeType.TEXT],
  ['Amount', SearchAttributeType.INT],
  ['Priority', SearchAttributeType.DOUBLE],
  ['Paid', SearchAttributeType.BOOL],
  ['DueDate', SearchAttributeType.DATETIME],
  ['Tags', SearchAttributeType.KEYWORD_LIST],
]);

/** A workflow run as the tests store it: built-in columns, and custom attributes by name. */
export interface Run {
  runId: string;
  workflowId: string;
  workflowType: string;
  taskQueue: string;
  status: string;
  startTime: string;
  closeTime?: string;
  historyLength: number;
  attributes: Record<string, unknown>;
}

/** The dozen runs every compiler test stores, in run id order. */
export const RUNS: Run[] = [
  {
    runId: 'r01',
    workflowId: 'order-1',
    workflowType: 'order',
    taskQueue: 'orders',
    status: 'Running',
    startTime: '2026-11-01T10:00:00Z',
    historyLength: 5,
    attributes: {
      CustomerId: 'c-42',
      Amount: 100,
      Priority: 1.5,
      Tags: ['vip', 'eu'],
      Description: 'Rush order for the Quick brown fox',
      Paid: true,
      DueDate: '2026-11-10T00:00:00Z',
    },
  },
  {
    runId: 'r02',
    workflowId: 'order-2',
    workflowType: 'order',
    taskQueue: 'orders',
    status: 'Running',
    startTime: '2026-11-02T10:00:00Z',
    historyLength: 12,
    attributes: { CustomerId: 'c-7', Amount: 250, Priority: 2, Tags: ['eu'], Paid: false },
  },
  {
    runId: 'r03',
    workflowId: 'order-3',
    workflowType: 'order',
    taskQueue: 'orders',
    status: 'Completed',
    startTime: '2026-11-03T10:00:00Z',
    closeTime: '2026-11-03T12:00:00Z',
    historyLength: 40,
    attributes: {
      CustomerId: 'c-42',
      Amount: 75,
      Tags: ['vip'],
      Description: 'foxes everywhere',
      Paid: true,
      DueDate: '2026-11-20T00:00:00Z',
    },
  },
  {
    runId: 'r04',
    workflowId: 'order-4',
    workflowType: 'order',
    taskQueue: 'orders',
    status: 'Failed',
    startTime: '2026-11-04T10:00:00Z',
    closeTime: '2026-11-05T08:00:00Z',
    historyLength: 33,
    attributes: { CustomerId: 'c-42', Amount: -20, Priority: 0.5, Tags: [] },
  },
  {
    runId: 'r05',
    workflowId: 'ship-1',
    workflowType: 'shipment',
    taskQueue: 'shipping',
    status: 'Running',
    startTime: '2026-11-05T10:00:00Z',
    historyLength: 3,
    attributes: { CustomerId: 'c-9', Tags: ['us'], Description: 'fragile' },
  },
  {
    runId: 'r06',
    workflowId: 'ship-2',
    workflowType: 'shipment',
    taskQueue: 'shipping',
    status: 'TimedOut',
    startTime: '2026-11-06T10:00:00Z',
    closeTime: '2026-11-07T10:00:00Z',
    historyLength: 8,
    attributes: {},
  },
  {
    runId: 'r07',
    workflowId: 'ship_%1',
    workflowType: 'shipment',
    taskQueue: 'shipping',
    status: 'Completed',
    startTime: '2026-11-07T10:00:00Z',
    closeTime: '2026-11-07T11:00:00Z',
    historyLength: 9,
    attributes: { CustomerId: 'C-42' },
  },
  {
    runId: 'r08',
    workflowId: 'glob*[x]?',
    workflowType: 'shipment',
    taskQueue: 'shipping',
    status: 'Terminated',
    startTime: '2026-11-08T10:00:00Z',
    closeTime: '2026-11-08T10:30:00Z',
    historyLength: 4,
    attributes: { CustomerId: '007' },
  },
  {
    runId: 'r09',
    workflowId: 'refund-1',
    workflowType: 'refund',
    taskQueue: 'orders',
    status: 'Canceled',
    startTime: '2026-11-09T10:00:00Z',
    closeTime: '2026-11-09T10:05:00Z',
    historyLength: 6,
    attributes: { CustomerId: 'c-7', Description: 'Customer asked: REFUND the FOX.', Amount: 0 },
  },
  {
    runId: 'r10',
    workflowId: "refund-'quoted'",
    workflowType: 'refund',
    taskQueue: 'orders',
    status: 'Terminated',
    startTime: '2026-11-10T10:00:00Z',
    closeTime: '2026-11-10T10:00:01Z',
    historyLength: 2,
    attributes: { Paid: false, Tags: ['us', 'vip'] },
  },
  {
    runId: 'r11',
    workflowId: 'globAAA',
    workflowType: 'order',
    taskQueue: 'orders',
    status: 'Completed',
    startTime: '2026-11-30T23:59:59.999Z',
    closeTime: '2026-12-01T00:00:00Z',
    historyLength: 20,
    attributes: { Priority: 3.25, DueDate: '2026-12-01T00:00:00Z' },
  },
  {
    runId: 'r12',
    workflowId: 'order-1',
    workflowType: 'order',
    taskQueue: 'orders',
    status: 'ContinuedAsNew',
    startTime: '2026-12-01T00:00:00Z',
    closeTime: '2026-12-01T00:00:00Z',
    historyLength: 100,
    attributes: { CustomerId: 'c-42', Amount: 100 },
  },
];
/** Every run id, in order. */
export const ALL = RUNS.map((run) => run.runId);
/** Every run id but these, in order. */
export const except = (...ids: string[]) => ALL.filter((id) => !ids.includes(id));

/** Epoch milliseconds of an RFC 3339 string, or null. */
export const epochMs = (iso: string | undefined): number | null =>
  iso === undefined ? null : Date.parse(iso);

// ---------------------------------------------------------------------------------------------
// The reference evaluator, and a generator of random queries.

/** The values a run has for an attribute: none when it lacks it (NULL column, no rows). */
function valuesOf(run: Run, attribute: string): Scalar[] {
  const builtIn: Record<string, Scalar | undefined> = {
    WorkflowId: run.workflowId,
    RunId: run.runId,
    WorkflowType: run.workflowType,
    TaskQueue: run.taskQueue,
    ExecutionStatus: run.status,
    StartTime: Date.parse(run.startTime),
    CloseTime: run.closeTime === undefined ? undefined : Date.parse(run.closeTime),
    HistoryLength: run.historyLength,
  };
  if (attribute in builtIn) {
    const value = builtIn[attribute];
    return value === undefined ? [] : [value];
  }
  const value = run.attributes[attribute];
  if (value === undefined) return [];
  const type = types.get(attribute)!;
  if (type === 'Bool') return [value as boolean];
  return encodeSearchAttributeValue(attribute, type, value);
}

function holds(test: PredicateTest, type: string, value: Scalar): boolean {
  switch (test.op) {
    case 'equals':
      if (type === 'Text') {
        const words = new Set(textWords(String(value)));
        return textWords(String(test.value)).every((word) => words.has(word));
      }
      return value === test.value;
    case 'compare':
      switch (test.comparator) {
        case '<':
          return value < test.value;
        case '<=':
          return value <= test.value;
        case '>':
          return value > test.value;
        case '>=':
          return value >= test.value;
      }
      break;
    case 'in':
      return test.values.includes(value);
    case 'between':
      return value >= test.low && value <= test.high;
    case 'startsWith':
      return String(value).startsWith(test.prefix);
    case 'exists':
      return true;
  }
}

/**
 * Whether `run` satisfies `filter`, by the documented rules (the filter of `resolveListQuery`, so
 * that parsing and type checking, tested elsewhere, are shared with the compilers). Keyword order is
 * JavaScript's (UTF-16 code units), which is code point order for the ASCII values used here.
 */
export function evaluate(filter: Filter | undefined, run: Run): boolean {
  if (filter === undefined) return true;
  switch (filter.kind) {
    case 'and':
      return filter.operands.every((operand) => evaluate(operand, run));
    case 'or':
      return filter.operands.some((operand) => evaluate(operand, run));
    case 'not':
      return !evaluate(filter.operand, run);
    case 'predicate': {
      const found = valuesOf(run, filter.attribute.name).some((value) =>
        holds(filter.test, filter.attribute.type, value),
      );
      return filter.negated ? !found : found;
    }
  }
}

/** A small deterministic PRNG (mulberry32). */
export function random(seed: number) {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The attributes the generator picks, with operators and values for each. */
const SAMPLES: Record<string, { ops: string[]; values: string[] }> = {
  WorkflowId: {
    ops: [
      '=',
      '!=',
      '<',
      '>=',
      'IN',
      'NOT IN',
      'BETWEEN',
      'NOT BETWEEN',
      'STARTS_WITH',
      'NOT STARTS_WITH',
    ],
    values: ["'order-1'", "'ship'", "'ship_'", "'glob*'", "'refund-''quoted'''", "'order-3'", "''"],
  },
  WorkflowType: {
    ops: ['=', '!=', 'IN', 'NOT IN', '>'],
    values: ["'order'", "'shipment'", "'refund'"],
  },
  ExecutionStatus: {
    ops: ['=', '!=', 'IN', 'NOT IN'],
    values: ["'Running'", "'Completed'", "'Terminated'", "'ContinuedAsNew'"],
  },
  StartTime: {
    ops: ['=', '!=', '<', '<=', '>', '>=', 'BETWEEN', 'NOT BETWEEN'],
    values: [
      "'2026-11-03T10:00:00Z'",
      "'2026-11-07'",
      "'2026-11-30T23:59:59.999Z'",
      "'2026-11-05T11:00:00+01:00'",
    ],
  },
  CloseTime: {
    ops: ['=', '!=', '<', '>=', 'IN', 'NOT IN', 'BETWEEN', 'NOT BETWEEN', 'IS NULL', 'IS NOT NULL'],
    values: ["'2026-11-07T10:00:00Z'", "'2026-12-01'", "'2026-11-05'"],
  },
  HistoryLength: { ops: ['=', '!=', '<', '>', 'BETWEEN', 'IN'], values: ['5', '9', '20', '33'] },
  CustomerId: {
    ops: [
      '=',
      '!=',
      '<',
      '>',
      'IN',
      'NOT IN',
      'STARTS_WITH',
      'NOT STARTS_WITH',
      'IS NULL',
      'IS NOT NULL',
    ],
    values: ["'c-42'", "'c-7'", "'007'", "'c-'", "'C-42'"],
  },
  Amount: {
    ops: ['=', '!=', '<', '<=', '>', 'IN', 'NOT IN', 'BETWEEN', 'NOT BETWEEN', 'IS NULL'],
    values: ['0', '75', '100', '-20', '250'],
  },
  Priority: {
    ops: ['=', '!=', '<', '>=', 'BETWEEN', 'IS NOT NULL'],
    values: ['1.5', '2', '0.5', '3.25'],
  },
  Paid: { ops: ['=', '!=', 'IS NULL'], values: ['true', 'false'] },
  DueDate: {
    ops: ['=', '!=', '<', '>', 'BETWEEN', 'IS NULL'],
    values: ["'2026-11-10T00:00:00Z'", "'2026-11-20'", "'2026-12-01'"],
  },
  Tags: {
    ops: ['=', '!=', 'IN', 'NOT IN', 'IS NULL', 'IS NOT NULL'],
    values: ["'vip'", "'eu'", "'us'", "'x'"],
  },
  Description: {
    ops: ['=', '!=', 'IS NULL'],
    values: ["'fox'", "'Quick FOX'", "'foxes'", "'refund'"],
  },
};

/** A random query over the attributes of {@link SAMPLES}, nesting AND, OR, NOT and parentheses. */
export function generate(next: () => number, depth: number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const roll = next();
  if (depth > 0 && roll < 0.3) {
    const joiner = pick([' AND ', ' OR ', ' and ', ' or ']);
    return `${generate(next, depth - 1)}${joiner}${generate(next, depth - 1)}`;
  }
  if (depth > 0 && roll < 0.4) return `NOT ${generate(next, depth - 1)}`;
  if (depth > 0 && roll < 0.5) return `(${generate(next, depth - 1)})`;
  const attribute = pick(Object.keys(SAMPLES));
  const { ops, values } = SAMPLES[attribute]!;
  const op = pick(ops);
  const value = () => pick(values);
  switch (op) {
    case 'IN':
    case 'NOT IN':
      return `${attribute} ${op} (${[value(), value(), value()].slice(0, 1 + Math.floor(next() * 3)).join(', ')})`;
    case 'BETWEEN':
    case 'NOT BETWEEN':
      return `${attribute} ${op} ${value()} AND ${value()}`;
    case 'IS NULL':
    case 'IS NOT NULL':
      return `${attribute} ${op}`;
    default:
      return `${attribute} ${op} ${value()}`;
  }
}

/**
 * `count` random queries (deterministic for a seed), each with the ids of the runs the reference
 * evaluator selects, in run id order.
 */
export function generatedQueries(
  seed: number,
  count: number,
): { query: string; expected: string[] }[] {
  const next = random(seed);
  return Array.from({ length: count }, () => {
    const query = generate(next, 4);
    const { filter } = resolveListQuery(query, types);
    const expected = RUNS.filter((run) => evaluate(filter, run)).map((run) => run.runId);
    return { query, expected };
  });
}

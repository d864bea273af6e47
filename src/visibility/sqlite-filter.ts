/**
 * Compiles a visibility query (see `list-query.ts` for the language) to an SQLite WHERE fragment
 * over the `executions` table, with every value bound as a parameter.
 *
 * Tables it expects (names configurable, see {@link SqliteFilterOptions}):
 *
 * ```sql
 * executions (run_id, workflow_id, workflow_type, task_queue, status, start_time, close_time,
 *             history_length, ...)       -- start_time / close_time in epoch milliseconds
 * search_attributes (run_id TEXT, name TEXT, value ANY) STRICT
 *                                        -- one row per value, as encodeSearchAttributeValue gives
 * ```
 *
 * The `search_attributes` table must be STRICT (or `value` declared without a type): a non-STRICT
 * `ANY` column has NUMERIC affinity and would store the Keyword `'007'` as the integer 7. An index
 * on `search_attributes (name, value, run_id)` or `(run_id, name)` serves the subqueries.
 */
import {
  resolveListQuery,
  textWords,
  type Filter,
  type ListQuery,
  type PredicateTest,
  type ResolvedAttribute,
  type Scalar,
} from './list-query.ts';
import { SearchAttributeType, type SearchAttributeTypes } from './search-attributes.ts';

/** A WHERE fragment and its positional (`?`) parameters, in order. */
export interface SqlFilter {
  sql: string;
  params: (string | number)[];
}

export interface SqliteFilterOptions {
  /** Name (or alias) of the executions table in the enclosing query. Default `executions`. */
  executionsTable?: string;
  /** Name of the custom search attributes table. Default `search_attributes`. */
  searchAttributesTable?: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Compiles a visibility query to an SQLite WHERE fragment. The fragment can be used as is
 * (`WHERE ${sql}`) or combined with other conditions (`WHERE ${sql} AND ...`): it is
 * parenthesised where needed. Its parameters are positional and come in the order of the `?` in
 * `sql`; values are never written into the SQL. An empty query gives `TRUE`.
 *
 * Built-in attributes are columns of the executions table, qualified with its name
 * (`executions.workflow_type = ?`); a custom attribute becomes an `EXISTS` subquery on
 * `search_attributes`, and its negated forms (`!=`, `NOT IN`, `IS NULL`...) `NOT EXISTS`.
 *
 * @param query The query text, or a query parsed by `parseListQuery`.
 * @param searchAttributes The registry of custom search attributes (name → type).
 * @throws {ListQueryError} if the query does not parse or does not type-check.
 * @example
 * ```ts
 * const types = new Map([['CustomerId', SearchAttributeType.KEYWORD]]);
 * const { sql, params } = compileSqliteFilter(
 *   "WorkflowType = 'order' AND CustomerId = 'c-42'",
 *   types,
 * );
 * // sql: "executions.workflow_type = ? AND EXISTS (SELECT 1 FROM search_attributes sa
 * //        WHERE sa.run_id = executions.run_id AND sa.name = ? AND sa.value = ?)"
 * // params: ['order', 'CustomerId', 'c-42']
 * db.prepare(`SELECT run_id FROM executions WHERE ${sql} ORDER BY start_time DESC`).all(...params);
 * ```
 */
export function compileSqliteFilter(
  query: string | ListQuery,
  searchAttributes: SearchAttributeTypes = new Map(),
  options: SqliteFilterOptions = {},
): SqlFilter {
  const executions = identifier(options.executionsTable ?? 'executions', 'executionsTable');
  const attributes = identifier(
    options.searchAttributesTable ?? 'search_attributes',
    'searchAttributesTable',
  );
  const { filter } = resolveListQuery(query, searchAttributes);
  if (filter === undefined) return { sql: 'TRUE', params: [] };
  const compiler = new SqliteCompiler(executions, attributes);
  const sql = compiler.filter(filter);
  return { sql: filter.kind === 'or' ? `(${sql})` : sql, params: compiler.params };
}

function identifier(name: string, option: string): string {
  if (!IDENTIFIER.test(name)) throw new TypeError(`Invalid ${option}: ${JSON.stringify(name)}`);
  return name;
}

/** Anything that is not part of a Text word (see `textWords`), for GLOB. */
const NON_WORD = '[^0-9a-z_\u{80}-\u{10FFFF}]';

/** `*`, `?` and `[` are GLOB's special characters; each stands for itself inside brackets. */
function globLiteral(text: string): string {
  return text.replace(/[*?[]/g, '[$&]');
}

const INVERSE = { '<': '>=', '<=': '>', '>': '<=', '>=': '<' } as const;

class SqliteCompiler {
  readonly params: (string | number)[] = [];

  constructor(
    private readonly executions: string,
    private readonly searchAttributes: string,
  ) {}

  filter(filter: Filter): string {
    switch (filter.kind) {
      case 'and':
      case 'or':
        return filter.operands
          .map((operand) => this.grouped(operand))
          .join(filter.kind === 'and' ? ' AND ' : ' OR ');
      case 'not':
        return `NOT (${this.filter(filter.operand)})`;
      case 'predicate':
        return filter.attribute.source === 'builtin'
          ? this.builtIn(filter.attribute, filter.test, filter.negated)
          : this.custom(filter.attribute, filter.test, filter.negated);
    }
  }

  private grouped(filter: Filter): string {
    const sql = this.filter(filter);
    return filter.kind === 'and' || filter.kind === 'or' ? `(${sql})` : sql;
  }

  private param(value: Scalar): string {
    this.params.push(typeof value === 'boolean' ? (value ? 1 : 0) : value);
    return '?';
  }

  /** A column of the executions table: a nullable column is NULL when the run lacks the attribute. */
  private builtIn(
    attribute: ResolvedAttribute & { source: 'builtin' },
    test: PredicateTest,
    negated: boolean,
  ): string {
    const column = `${this.executions}.${attribute.column}`;
    if (test.op === 'exists') return `${column} IS ${negated ? 'NULL' : 'NOT NULL'}`;
    const condition = this.condition(column, attribute.type, test, negated);
    if (!attribute.nullable) return condition;
    // Keep the predicate two-valued, so that NOT (...) around it is its exact negation.
    return negated
      ? `(${column} IS NULL OR ${condition})`
      : `(${column} IS NOT NULL AND ${condition})`;
  }

  /** A custom attribute: whether some row of the run's values for it satisfies the test. */
  private custom(
    attribute: ResolvedAttribute & { source: 'custom' },
    test: PredicateTest,
    negated: boolean,
  ): string {
    const name = this.param(attribute.name);
    const condition =
      test.op === 'exists' ? '' : ` AND ${this.condition('sa.value', attribute.type, test, false)}`;
    return (
      `${negated ? 'NOT ' : ''}EXISTS (SELECT 1 FROM ${this.searchAttributes} sa ` +
      `WHERE sa.run_id = ${this.executions}.run_id AND sa.name = ${name}${condition})`
    );
  }

  /** The test on a non-NULL value `x`, or its negation. */
  private condition(
    x: string,
    type: SearchAttributeType,
    test: Exclude<PredicateTest, { op: 'exists' }>,
    negated: boolean,
  ): string {
    const not = negated ? 'NOT ' : '';
    switch (test.op) {
      case 'equals':
        if (type === SearchAttributeType.TEXT) {
          const words = textWords(String(test.value)).map(
            (word) =>
              `(' ' || lower(${x}) || ' ') GLOB ${this.param(`*${NON_WORD}${word}${NON_WORD}*`)}`,
          );
          const all = words.length === 1 ? words.join('') : `(${words.join(' AND ')})`;
          return negated ? `NOT ${all}` : all;
        }
        return `${x} ${negated ? '!=' : '='} ${this.param(test.value)}`;
      case 'compare':
        return `${x} ${negated ? INVERSE[test.comparator] : test.comparator} ${this.param(test.value)}`;
      case 'in':
        return `${x} ${not}IN (${test.values.map((value) => this.param(value)).join(', ')})`;
      case 'between':
        return `${x} ${not}BETWEEN ${this.param(test.low)} AND ${this.param(test.high)}`;
      case 'startsWith':
        return `${x} ${not}GLOB ${this.param(`${globLiteral(test.prefix)}*`)}`;
    }
  }
}

/**
 * Compiles a visibility query (see `list-query.ts` for the language) to a PostgreSQL WHERE
 * fragment over the `executions` table, with every value bound as a `$n` parameter. It has exactly
 * the semantics of the SQLite compiler (`sqlite-filter.ts`): both start from the same
 * `ResolvedListQuery` and follow the rules documented in `list-query.ts`.
 *
 * Tables it expects (names configurable, see {@link PostgresFilterOptions}):
 *
 * ```sql
 * executions (run_id text, workflow_id text, workflow_type text, task_queue text, status text,
 *             start_time bigint, close_time bigint, history_length integer, ...)
 *                                      -- start_time / close_time in epoch milliseconds
 * search_attributes (run_id text, name text, value_text text, value_num double precision)
 *                                      -- one row per value: Keyword, Text and each KeywordList
 *                                      -- element in value_text; Int, Double, Datetime (epoch ms)
 *                                      -- and Bool (0/1) in value_num
 * ```
 *
 * How the documented rules map to PostgreSQL:
 *
 * - Keyword order is by code point whatever the collation of the columns: ordering operators
 *   (`<`, `<=`, `>`, `>=`, `BETWEEN`) compare `x COLLATE "C"`, which orders UTF-8 bytes, i.e. code
 *   points (as SQLite's BINARY collation does). Equality (`=`, `!=`, `IN`) is left in the column's
 *   collation, so that the indexes on the text columns serve it: in every deterministic collation
 *   (the database default always is one) two strings are equal only if their bytes are.
 * - `STARTS_WITH` is `starts_with(x COLLATE "C", $n)`: a byte prefix test, case-sensitive, with no
 *   wildcard character (unlike LIKE's `%` and `_`).
 * - Text `=` tests each word of the value (`textWords`) with a regular expression on the text with
 *   its ASCII letters lower-cased by `translate` (not `lower`, which would also fold non-ASCII
 *   letters in most locales): the word, escaped, between a start or a non-word character and an end
 *   or a non-word character, the non-word characters being exactly the ASCII ones other than
 *   letters, digits and `_` (see `textWords`).
 * - PostgreSQL text cannot hold the character U+0000, so no stored value contains it; a query value
 *   that does is not sent (PostgreSQL would reject it) but compiled to what it means against such
 *   values: `= 'a\0'` is false, `< 'a\0b'` is `<= 'a'`, `STARTS_WITH 'a\0'` is false, and so on.
 * - Numbers are cast where they are bound (`$n::bigint` against the built-in columns,
 *   `$n::double precision` against `value_num`), so that an Int beyond the range of the `integer`
 *   column `history_length` compares instead of failing.
 *
 * Indexes on `search_attributes (name, value_text, run_id)` and `(name, value_num, run_id)` (or on
 * `(run_id)`) serve the subqueries.
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

/** A WHERE fragment and its parameters: `params[i]` is `$${firstParameter + i}` in `sql`. */
export interface PostgresFilter {
  sql: string;
  params: (string | number)[];
}

export interface PostgresFilterOptions {
  /**
   * Name (or alias) of the executions table in the enclosing query, optionally schema-qualified
   * (`keel.executions`). Default `executions`.
   */
  executionsTable?: string;
  /** Name of the custom search attributes table, optionally schema-qualified. Default `search_attributes`. */
  searchAttributesTable?: string;
  /**
   * Number of the first placeholder (`$1` by default), so that the enclosing query can bind its own
   * parameters first: with `firstParameter: 3`, the fragment uses `$3`, `$4`, ... and its
   * parameters go after the caller's two.
   */
  firstParameter?: number;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/**
 * Compiles a visibility query to a PostgreSQL WHERE fragment. The fragment can be used as is
 * (`WHERE ${sql}`) or combined with other conditions (`WHERE ${sql} AND ...`): it is
 * parenthesised where needed. Its parameters are numbered placeholders, `$firstParameter` onwards,
 * each used once, in the order of `params`; values are never written into the SQL. An empty query
 * gives `TRUE`.
 *
 * Built-in attributes are columns of the executions table, qualified with its name
 * (`executions.workflow_type = $1`); a custom attribute becomes an `EXISTS` subquery on
 * `search_attributes` (on `value_text` or `value_num` according to its type), and its negated forms
 * (`!=`, `NOT IN`, `IS NULL`...) `NOT EXISTS`.
 *
 * @param query The query text, or a query parsed by `parseListQuery`.
 * @param searchAttributes The registry of custom search attributes (name → type).
 * @param options Table names and the number of the first placeholder.
 * @throws {ListQueryError} if the query does not parse or does not type-check.
 * @throws {TypeError} for a table name that is not an identifier (or `schema.identifier`), or a
 *   `firstParameter` that is not a positive integer.
 * @example
 * ```ts
 * const types = new Map([['CustomerId', SearchAttributeType.KEYWORD]]);
 * const { sql, params } = compilePostgresFilter(
 *   "WorkflowType = 'order' AND CustomerId = 'c-42'",
 *   types,
 *   { firstParameter: 2 },
 * );
 * // sql: "executions.workflow_type = $2 AND EXISTS (SELECT 1 FROM search_attributes sa
 * //        WHERE sa.run_id = executions.run_id AND sa.name = $3 AND sa.value_text = $4)"
 * // params: ['order', 'CustomerId', 'c-42']
 * await pool.query(
 *   `SELECT run_id FROM executions WHERE start_time < $1 AND ${sql} ORDER BY start_time DESC`,
 *   [before, ...params],
 * );
 * ```
 */
export function compilePostgresFilter(
  query: string | ListQuery,
  searchAttributes: SearchAttributeTypes = new Map(),
  options: PostgresFilterOptions = {},
): PostgresFilter {
  const executions = identifier(options.executionsTable ?? 'executions', 'executionsTable');
  const attributes = identifier(
    options.searchAttributesTable ?? 'search_attributes',
    'searchAttributesTable',
  );
  const first = options.firstParameter ?? 1;
  if (!Number.isSafeInteger(first) || first < 1) {
    throw new TypeError(`Invalid firstParameter: ${String(first)} (expected a positive integer)`);
  }
  const { filter } = resolveListQuery(query, searchAttributes);
  if (filter === undefined) return { sql: 'TRUE', params: [] };
  const compiler = new PostgresCompiler(executions, attributes, first);
  const sql = compiler.filter(filter);
  return { sql: filter.kind === 'or' ? `(${sql})` : sql, params: compiler.params };
}

function identifier(name: string, option: string): string {
  if (!IDENTIFIER.test(name)) throw new TypeError(`Invalid ${option}: ${JSON.stringify(name)}`);
  return name;
}

/**
 * The characters that are not part of a Text word (see `textWords`): the ASCII ones other than
 * letters, digits and `_` (U+0000 cannot occur in PostgreSQL text), as a regular expression class.
 */
const NON_WORD = '[\\u0001-\\u002f\\u003a-\\u0040\\u005b-\\u005e\\u0060\\u007b-\\u007f]';

/** A regular expression matching `word` as a whole Text word. */
function wholeWord(word: string): string {
  // Words hold only ASCII letters, digits, `_` and non-ASCII characters, none of them special in a
  // regular expression; escaping the ASCII punctuation anyway keeps this true of any input.
  const escaped = word.replace(/[!-/:-@[-^`{-~]/g, '\\$&');
  return `(^|${NON_WORD})${escaped}($|${NON_WORD})`;
}

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';

const INVERSE = { '<': '>=', '<=': '>', '>': '<=', '>=': '<' } as const;

/** The types stored in `value_text`; the others are in `value_num`. */
const TEXT_TYPES: ReadonlySet<SearchAttributeType> = new Set([
  SearchAttributeType.KEYWORD,
  SearchAttributeType.TEXT,
  SearchAttributeType.KEYWORD_LIST,
]);

/** Where a string holds U+0000, which no PostgreSQL text value can: -1 if it does not. */
function nulIndex(value: Scalar): number {
  return typeof value === 'string' ? value.indexOf('\0') : -1;
}

class PostgresCompiler {
  readonly params: (string | number)[] = [];
  /** Alias of the search attributes table in the subqueries, distinct from the executions table's. */
  private readonly alias: string;

  constructor(
    private readonly executions: string,
    private readonly searchAttributes: string,
    private readonly firstParameter: number,
  ) {
    const qualifier = executions.slice(executions.lastIndexOf('.') + 1).toLowerCase();
    this.alias = qualifier === 'sa' ? 'sa_' : 'sa';
  }

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

  /** Binds a value; `cast` (`::bigint`...) is appended to the placeholder. */
  private param(value: Scalar, cast = ''): string {
    this.params.push(typeof value === 'boolean' ? (value ? 1 : 0) : value);
    return `$${this.firstParameter + this.params.length - 1}${cast}`;
  }

  /** A column of the executions table: a nullable column is NULL when the run lacks the attribute. */
  private builtIn(
    attribute: ResolvedAttribute & { source: 'builtin' },
    test: PredicateTest,
    negated: boolean,
  ): string {
    const column = `${this.executions}.${attribute.column}`;
    if (test.op === 'exists') return `${column} IS ${negated ? 'NULL' : 'NOT NULL'}`;
    const cast = TEXT_TYPES.has(attribute.type) ? '' : '::bigint';
    const condition = this.condition(column, attribute.type, cast, test, negated);
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
    // No row can have this name: the run lacks the attribute.
    if (nulIndex(attribute.name) !== -1) return negated ? 'TRUE' : 'FALSE';
    const sa = this.alias;
    const name = this.param(attribute.name);
    let condition = '';
    if (test.op !== 'exists') {
      const [column, cast] = TEXT_TYPES.has(attribute.type)
        ? ['value_text', '']
        : ['value_num', '::double precision'];
      condition = ` AND ${this.condition(`${sa}.${column}`, attribute.type, cast, test, false)}`;
    }
    return (
      `${negated ? 'NOT ' : ''}EXISTS (SELECT 1 FROM ${this.searchAttributes} ${sa} ` +
      `WHERE ${sa}.run_id = ${this.executions}.run_id AND ${sa}.name = ${name}${condition})`
    );
  }

  /**
   * The test on a non-NULL value `x`, or its negation. `cast` is appended to the placeholders of
   * numbers.
   */
  private condition(
    x: string,
    type: SearchAttributeType,
    cast: string,
    test: Exclude<PredicateTest, { op: 'exists' }>,
    negated: boolean,
  ): string {
    const not = negated ? 'NOT ' : '';
    /** A test that is constant against stored values (no stored text holds U+0000). */
    const constant = (holds: boolean) => (holds !== negated ? 'TRUE' : 'FALSE');
    switch (test.op) {
      case 'equals': {
        if (type === SearchAttributeType.TEXT) {
          const text = `translate(${x}, '${UPPER}', '${LOWER}') COLLATE "C"`;
          const words = textWords(String(test.value)).map(
            (word) => `${text} ~ ${this.param(wholeWord(word))}`,
          );
          const all = words.length === 1 ? words.join('') : `(${words.join(' AND ')})`;
          return negated ? `NOT ${all}` : all;
        }
        if (nulIndex(test.value) !== -1) return constant(false);
        return `${x} ${negated ? '<>' : '='} ${this.param(test.value, cast)}`;
      }
      case 'compare': {
        const comparator = negated ? INVERSE[test.comparator] : test.comparator;
        if (typeof test.value !== 'string') {
          return `${x} ${comparator} ${this.param(test.value, cast)}`;
        }
        return this.ordered(x, comparator, test.value);
      }
      case 'in': {
        const values = test.values.filter((value) => nulIndex(value) === -1);
        if (values.length === 0) return constant(false);
        return `${x} ${not}IN (${values.map((value) => this.param(value, cast)).join(', ')})`;
      }
      case 'between': {
        const { low, high } = test;
        if (typeof low !== 'string' || typeof high !== 'string') {
          return `${x} ${not}BETWEEN ${this.param(low, cast)} AND ${this.param(high, cast)}`;
        }
        if (nulIndex(low) === -1 && nulIndex(high) === -1) {
          return `${x} COLLATE "C" ${not}BETWEEN ${this.param(low)} AND ${this.param(high)}`;
        }
        return `${not}(${this.ordered(x, '>=', low)} AND ${this.ordered(x, '<=', high)})`;
      }
      case 'startsWith':
        if (nulIndex(test.prefix) !== -1) return constant(false);
        return `${not}starts_with(${x} COLLATE "C", ${this.param(test.prefix)})`;
    }
  }

  /**
   * `x <comparator> value` in code point order. A value holding U+0000 is compared through its part
   * before it, `p`: for a stored `x` (which cannot hold U+0000), `x < value` and `x <= value` are
   * `x <= p`, and `x > value` and `x >= value` are `x > p`.
   */
  private ordered(x: string, comparator: '<' | '<=' | '>' | '>=', value: string): string {
    const nul = value.indexOf('\0');
    if (nul === -1) return `${x} COLLATE "C" ${comparator} ${this.param(value)}`;
    const below = comparator === '<' || comparator === '<=';
    return `${x} COLLATE "C" ${below ? '<=' : '>'} ${this.param(value.slice(0, nul))}`;
  }
}

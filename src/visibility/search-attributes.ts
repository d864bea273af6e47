/**
 * Search attributes: the typed fields a visibility query (see `list-query.ts`) can filter on.
 *
 * Two kinds exist:
 *
 * - **Built-in** attributes are columns of the `executions` table (WorkflowId, WorkflowType,
 *   ExecutionStatus, StartTime, ...), listed in {@link BUILT_IN_SEARCH_ATTRIBUTES}.
 * - **Custom** attributes are registered with a type ({@link SearchAttributeType}) and stored one row
 *   per value in `search_attributes(run_id, name, value)`; {@link encodeSearchAttributeValue} gives
 *   the stored form of a value, which is what the query compilers compare against.
 *
 * This module knows nothing about SQL dialects: the SQLite and PostgreSQL compilers share it.
 */

/**
 * The types a custom search attribute can have (the names are Temporal's).
 *
 * | Type        | Query values                  | Stored as (SQLite)                      |
 * | ----------- | ----------------------------- | --------------------------------------- |
 * | Keyword     | string, compared exactly      | TEXT                                    |
 * | Text        | string, matched by words      | TEXT                                    |
 * | Int         | integer                       | INTEGER (or an integral REAL)           |
 * | Double      | number                        | REAL                                    |
 * | Bool        | true / false                  | 0 / 1                                   |
 * | Datetime    | RFC 3339 string               | epoch milliseconds (INTEGER)            |
 * | KeywordList | string, one of the elements   | TEXT, one row per element               |
 *
 * @example
 * ```ts
 * const searchAttributes: SearchAttributeTypes = new Map([
 *   ['CustomerId', SearchAttributeType.KEYWORD],
 *   ['Amount', SearchAttributeType.DOUBLE],
 *   ['Tags', SearchAttributeType.KEYWORD_LIST],
 * ]);
 * ```
 */
import { SearchAttributeType } from '../state/search-attributes.ts';

export { SearchAttributeType };

/** The registry of custom search attributes a query may use: name (case-sensitive) → type. */
export type SearchAttributeTypes = ReadonlyMap<string, SearchAttributeType>;

/**
 * The values of the built-in `ExecutionStatus` attribute, in the order error messages list them.
 * `ContinuedAsNew` is the status of a run that continued as new (or was retried).
 */
export const EXECUTION_STATUSES = [
  'Running',
  'Completed',
  'Failed',
  'Canceled',
  'Terminated',
  'TimedOut',
  'ContinuedAsNew',
] as const;

/** A built-in search attribute: a column of the `executions` table. */
export interface BuiltInSearchAttribute {
  readonly name: string;
  readonly type: SearchAttributeType;
  /** Column of the `executions` table. */
  readonly column: string;
  /** Whether the column can be NULL (only CloseTime, while the run is open). */
  readonly nullable: boolean;
  /** A closed set of values (ExecutionStatus): only `=`, `!=`, `IN`, `NOT IN` apply. */
  readonly values?: readonly string[];
}

const builtIn = (
  name: string,
  type: SearchAttributeType,
  column: string,
  extra: { nullable?: boolean; values?: readonly string[] } = {},
): [string, BuiltInSearchAttribute] => [
  name,
  {
    name,
    type,
    column,
    nullable: extra.nullable ?? false,
    ...(extra.values && { values: extra.values }),
  },
];

/**
 * The built-in search attributes, by name. They take precedence over a custom attribute of the
 * same name, so a registry should refuse these names.
 */
export const BUILT_IN_SEARCH_ATTRIBUTES: ReadonlyMap<string, BuiltInSearchAttribute> = new Map([
  builtIn('WorkflowId', SearchAttributeType.KEYWORD, 'workflow_id'),
  builtIn('RunId', SearchAttributeType.KEYWORD, 'run_id'),
  builtIn('WorkflowType', SearchAttributeType.KEYWORD, 'workflow_type'),
  builtIn('TaskQueue', SearchAttributeType.KEYWORD, 'task_queue'),
  builtIn('ExecutionStatus', SearchAttributeType.KEYWORD, 'status', { values: EXECUTION_STATUSES }),
  builtIn('StartTime', SearchAttributeType.DATETIME, 'start_time'),
  builtIn('CloseTime', SearchAttributeType.DATETIME, 'close_time', { nullable: true }),
  builtIn('HistoryLength', SearchAttributeType.INT, 'history_length'),
]);

/** Whether `value` is one of the {@link SearchAttributeType} names. */
export function isSearchAttributeType(value: unknown): value is SearchAttributeType {
  return (
    typeof value === 'string' && (Object.values(SearchAttributeType) as string[]).includes(value)
  );
}

const DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?([Zz]|([+-])(\d{2}):(\d{2})))?$/;

/**
 * Parses an RFC 3339 / ISO 8601 date-time into epoch milliseconds, strictly: `undefined` for
 * anything else (no `Date.parse` guessing).
 *
 * Accepted: `2026-11-25T10:00:00Z`, `2026-11-25T10:00:00.123456+01:00`, `2026-11-25T10:00Z`,
 * `2026-11-25 10:00:00z`, and a bare date `2026-11-25` (midnight UTC). A time needs a zone (`Z` or
 * `±HH:MM`): a server has no meaningful local time. Fractional seconds beyond milliseconds are
 * truncated.
 *
 * @example
 * ```ts
 * parseDatetime('2026-11-25T10:00:00Z'); // 1795600800000
 * parseDatetime('2026-02-30'); // undefined
 * ```
 */
export function parseDatetime(text: string): number | undefined {
  const match = DATETIME.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', fraction = '', zone, sign, zh = '0', zm = '0'] =
    match;
  if (match[4] !== undefined && zone === undefined) return undefined;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const [hour, minute, second, zoneHour, zoneMinute] = [h, mi, s, zh, zm].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (daysInMonth === undefined || day < 1 || day > daysInMonth) return undefined;
  if (hour > 23 || minute > 59 || second > 59 || zoneHour > 23 || zoneMinute > 59) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, Number(fraction.slice(0, 3).padEnd(3, '0')));
  const offset = (zoneHour * 60 + zoneMinute) * 60_000 * (sign === '-' ? -1 : 1);
  return date.getTime() - offset;
}

/**
 * The stored form of a custom search attribute value: one entry per `search_attributes` row
 * (several for a KeywordList, none for an empty one). Throws a TypeError for a value that does
 * not fit the type.
 *
 * Datetime takes a `Date`, an RFC 3339 string or epoch milliseconds, and is stored as epoch
 * milliseconds; Bool is stored as 0/1. With a STRICT table whose `value` column is `ANY`, SQLite
 * keeps these types as they are (a non-STRICT `ANY` column would have NUMERIC affinity and turn
 * the Keyword `'007'` into the integer 7).
 *
 * @example
 * ```ts
 * encodeSearchAttributeValue('Tags', SearchAttributeType.KEYWORD_LIST, ['vip', 'eu']); // ['vip', 'eu']
 * encodeSearchAttributeValue('Paid', SearchAttributeType.BOOL, true); // [1]
 * ```
 */
export function encodeSearchAttributeValue(
  name: string,
  type: SearchAttributeType,
  value: unknown,
): (string | number)[] {
  const invalid = (expected: string) =>
    new TypeError(
      `Invalid value for ${type} search attribute ${name}: expected ${expected}, got ${describeValue(value)}`,
    );
  switch (type) {
    case SearchAttributeType.KEYWORD:
    case SearchAttributeType.TEXT:
      if (typeof value !== 'string') throw invalid('a string');
      return [value];
    case SearchAttributeType.KEYWORD_LIST:
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
        throw invalid('an array of strings');
      return [...new Set<string>(value)];
    case SearchAttributeType.INT:
      if (typeof value !== 'number' || !Number.isSafeInteger(value))
        throw invalid('a safe integer');
      return [value];
    case SearchAttributeType.DOUBLE:
      if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid('a finite number');
      return [value];
    case SearchAttributeType.BOOL:
      if (typeof value !== 'boolean') throw invalid('a boolean');
      return [value ? 1 : 0];
    case SearchAttributeType.DATETIME: {
      const ms =
        value instanceof Date
          ? value.getTime()
          : typeof value === 'string'
            ? parseDatetime(value)
            : typeof value === 'number' && Number.isSafeInteger(value)
              ? value
              : undefined;
      if (ms === undefined || Number.isNaN(ms))
        throw invalid('a Date, an RFC 3339 string or epoch milliseconds');
      return [ms];
    }
    default:
      throw new TypeError(`Unknown search attribute type for ${name}: ${String(type)}`);
  }
}

function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
    case 'bigint':
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'symbol':
      return value.toString();
    case 'function':
      return 'a function';
    default:
      if (value instanceof Date) return `Date(${String(value.getTime())})`;
      if (Array.isArray(value)) return 'an array';
      return value === null ? 'null' : 'an object';
  }
}

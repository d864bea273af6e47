import { isWellFormed } from '../common/payload.ts';

/**
 * Typed search attributes as stored: each value carries its type, so that a list query can compare
 * it correctly and a type conflict is caught where the value is set.
 */
export const SearchAttributeType = {
  KEYWORD: 'Keyword',
  TEXT: 'Text',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
} as const;
export type SearchAttributeType = (typeof SearchAttributeType)[keyof typeof SearchAttributeType];

/** One attribute's value: `null` removes it (on upsert). Datetime values are epoch milliseconds. */
export type SearchAttributeValue =
  | { type: 'Keyword' | 'Text'; value: string }
  | { type: 'Int' | 'Double' | 'Datetime'; value: number }
  | { type: 'Bool'; value: boolean }
  | { type: 'KeywordList'; value: string[] };

export type SearchAttributeValues = Record<string, SearchAttributeValue | null>;

/** Sets (or, for null, removes) search attributes on a run's state. */
export function applySearchAttributes(
  state: { searchAttributes?: Record<string, SearchAttributeValue> },
  values: SearchAttributeValues,
): void {
  const current = { ...(state.searchAttributes ?? {}) };
  for (const [name, value] of Object.entries(values)) {
    if (value === null) delete current[name];
    else current[name] = value;
  }
  state.searchAttributes = current;
}

const TYPES = new Set<string>(Object.values(SearchAttributeType));

/** Attributes every run has (their columns: src/visibility/search-attributes.ts); user values may not shadow them. */
export const BUILT_IN_SEARCH_ATTRIBUTE_NAMES: readonly string[] = [
  'WorkflowId',
  'RunId',
  'WorkflowType',
  'TaskQueue',
  'ExecutionStatus',
  'StartTime',
  'CloseTime',
  'HistoryLength',
];

/** Checks the shape of search attribute values; returns what is wrong, or undefined. */
export function validateSearchAttributeValues(values: SearchAttributeValues): string | undefined {
  if (typeof values !== 'object' || values === null) return 'search attributes must be an object';
  for (const [name, entry] of Object.entries(values)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      return `search attribute name '${name}' must be letters, digits and _`;
    if (BUILT_IN_SEARCH_ATTRIBUTE_NAMES.includes(name)) {
      return `'${name}' is a built-in search attribute and cannot be set; choose another name`;
    }
    if (entry === null) continue;
    if (!TYPES.has(entry.type))
      return `search attribute '${name}' has unknown type '${String(entry.type)}'`;
    const v = entry.value as unknown;
    const ok =
      entry.type === 'Keyword' || entry.type === 'Text'
        ? typeof v === 'string'
        : entry.type === 'Int'
          ? Number.isSafeInteger(v)
          : entry.type === 'Double' || entry.type === 'Datetime'
            ? typeof v === 'number' && Number.isFinite(v)
            : entry.type === 'Bool'
              ? typeof v === 'boolean'
              : Array.isArray(v) && v.every((item) => typeof item === 'string');
    if (!ok)
      return `search attribute '${name}' of type ${entry.type} has an invalid value ${JSON.stringify(v)}`;
    const texts = typeof v === 'string' ? [v] : Array.isArray(v) ? (v as string[]) : [];
    if (!texts.every(isWellFormed))
      return `search attribute '${name}' has a value holding half of a UTF-16 surrogate pair, which has no UTF-8 encoding; pass value.toWellFormed()`;
  }
  return undefined;
}

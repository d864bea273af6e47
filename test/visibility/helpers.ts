/**
 * Shared helpers of the visibility query tests: a compact rendering of syntax trees, and an
 * assertion on ListQueryError (message, position, token, the query line and the caret line).
 */
import assert from 'node:assert/strict';
import {
  ListQueryError,
  type Expression,
  type Literal,
  type ListQuery,
} from '../../src/visibility/list-query.ts';

function literal(value: Literal): string {
  return value.kind === 'string' ? JSON.stringify(value.value) : String(value.value);
}

/** `a = 1 AND NOT b IS NULL` → `(and (= a 1) (not (is-null b)))`. */
export function render(expression: Expression | undefined): string {
  if (expression === undefined) return '(all)';
  switch (expression.kind) {
    case 'and':
    case 'or':
      return `(${expression.kind} ${expression.operands.map(render).join(' ')})`;
    case 'not':
      return `(not ${render(expression.operand)})`;
    case 'comparison':
      return `(${expression.operator} ${expression.attribute.name} ${literal(expression.value)})`;
    case 'in':
      return `(${expression.negated ? 'not-in' : 'in'} ${expression.attribute.name} [${expression.values.map(literal).join(' ')}])`;
    case 'between':
      return `(${expression.negated ? 'not-between' : 'between'} ${expression.attribute.name} ${literal(expression.low)} ${literal(expression.high)})`;
    case 'startsWith':
      return `(${expression.negated ? 'not-starts-with' : 'starts-with'} ${expression.attribute.name} ${literal(expression.prefix)})`;
    case 'isNull':
      return `(${expression.negated ? 'is-not-null' : 'is-null'} ${expression.attribute.name})`;
  }
}

export function renderQuery(query: ListQuery): string {
  return render(query.expression);
}

/**
 * Asserts that `run` throws a ListQueryError for `query` with this detail (the first line after
 * "Invalid list query: "), at this position, with the query (or its offending line) and a caret
 * under the position on the next two lines.
 */
export function assertListQueryError(
  run: () => unknown,
  query: string,
  expected: { detail: string | RegExp; position: number; token?: string },
): ListQueryError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ListQueryError, `expected a ListQueryError, got ${String(caught)}`);
  assert.equal(caught.name, 'ListQueryError');
  assert.equal(caught.query, query);
  assert.equal(caught.position, expected.position, caught.message);
  if (expected.token !== undefined) assert.equal(caught.token, expected.token);
  const [first, line, caret, ...rest] = caught.message.split('\n');
  assert.deepEqual(rest, []);
  if (typeof expected.detail === 'string') assert.equal(caught.detail, expected.detail);
  else assert.match(caught.detail, expected.detail);
  assert.equal(first, `Invalid list query: ${caught.detail}`);
  assert.match(caught.detail, new RegExp(`at position ${expected.position}\\b`));
  const lineStart = query.lastIndexOf('\n', expected.position - 1) + 1;
  const lineEnd = query.indexOf('\n', expected.position);
  assert.equal(
    line,
    `  ${query.slice(lineStart, lineEnd === -1 ? undefined : lineEnd).replace(/[\t\r]/g, ' ')}`,
  );
  assert.equal(caret, `  ${' '.repeat(expected.position - lineStart)}^`);
  return caught;
}

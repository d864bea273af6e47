import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ListQueryError,
  conditionOperator,
  parseListQuery,
  resolveListQuery,
  type Condition,
} from '../../src/visibility/list-query.ts';
import { SearchAttributeType } from '../../src/visibility/search-attributes.ts';
import { assertListQueryError, renderQuery } from './helpers.ts';

const parse = (query: string) => renderQuery(parseListQuery(query));
const parseError = (query: string, expected: Parameters<typeof assertListQueryError>[2]) =>
  assertListQueryError(() => parseListQuery(query), query, expected);

describe('parseListQuery: constructs', () => {
  test('an empty or blank query has no expression (everything matches)', () => {
    assert.deepEqual(parseListQuery(''), { query: '', expression: undefined });
    assert.deepEqual(parseListQuery('  \n\t '), { query: '  \n\t ', expression: undefined });
  });

  test('every comparison operator, with or without spaces; <> is !=', () => {
    assert.equal(parse("WorkflowType = 'a'"), '(= WorkflowType "a")');
    assert.equal(parse("WorkflowType != 'a'"), '(!= WorkflowType "a")');
    assert.equal(parse("WorkflowType <> 'a'"), '(!= WorkflowType "a")');
    assert.equal(parse('HistoryLength < 1'), '(< HistoryLength 1)');
    assert.equal(parse('HistoryLength <= 1'), '(<= HistoryLength 1)');
    assert.equal(parse('HistoryLength > 1'), '(> HistoryLength 1)');
    assert.equal(parse('HistoryLength >= 1'), '(>= HistoryLength 1)');
    assert.equal(parse('HistoryLength>=-1'), '(>= HistoryLength -1)');
    assert.equal(parse("WorkflowType='a'"), '(= WorkflowType "a")');
  });

  test('a condition records the operator as written and its position', () => {
    const { expression } = parseListQuery("Amount <> 5 AND Tags not  in ('x') AND X is NOT null");
    assert.equal(expression?.kind, 'and');
    const [neq, notIn, isNotNull] = (expression as { operands: Condition[] }).operands;
    assert.deepEqual(neq, {
      kind: 'comparison',
      attribute: { name: 'Amount', position: 0, text: 'Amount' },
      operator: '!=',
      operatorPosition: 7,
      operatorText: '<>',
      value: { kind: 'number', value: 5, integer: true, position: 10, text: '5' },
    });
    assert.equal(notIn?.operatorPosition, 21);
    assert.equal(notIn?.operatorText, 'not  in');
    assert.equal(isNotNull?.operatorText, 'is NOT null');
    assert.deepEqual(
      [neq, notIn, isNotNull].map((c) => c && conditionOperator(c)),
      ['!=', 'NOT IN', 'IS NOT NULL'],
    );
  });

  test('strings: single or double quotes, doubled quotes and backslash escapes', () => {
    const value = (query: string) => {
      const { expression } = parseListQuery(query);
      assert.equal(expression?.kind, 'comparison');
      return expression.value.value;
    };
    assert.equal(value("A = 'plain'"), 'plain');
    assert.equal(value('A = "double"'), 'double');
    assert.equal(value("A = ''"), '');
    assert.equal(value("A = 'it''s'"), "it's");
    assert.equal(value("A = 'it\\'s'"), "it's");
    assert.equal(value('A = "say ""hi"""'), 'say "hi"');
    assert.equal(value('A = "say \\"hi\\""'), 'say "hi"');
    assert.equal(value('A = "it\'s"'), "it's");
    assert.equal(value("A = 'a\\\\b'"), 'a\\b');
    assert.equal(value("A = 'l1\\nl2\\tx\\r'"), 'l1\nl2\tx\r');
    assert.equal(value("A = 'AND OR ) ( , = 42'"), 'AND OR ) ( , = 42');
    assert.equal(value("A = 'crème brûlée 😀'"), 'crème brûlée 😀');
    assert.equal(value("A = 'multi\nline'"), 'multi\nline');
  });

  test('numbers: integers, negatives, decimals, exponents; booleans in any case', () => {
    const literal = (query: string) => {
      const { expression } = parseListQuery(query);
      assert.equal(expression?.kind, 'comparison');
      const { kind, value } = expression.value;
      return {
        kind,
        value,
        ...(expression.value.kind === 'number' && { integer: expression.value.integer }),
      };
    };
    assert.deepEqual(literal('A = 42'), { kind: 'number', value: 42, integer: true });
    assert.deepEqual(literal('A = -7'), { kind: 'number', value: -7, integer: true });
    assert.deepEqual(literal('A = 0'), { kind: 'number', value: 0, integer: true });
    assert.deepEqual(literal('A = 3.25'), { kind: 'number', value: 3.25, integer: false });
    assert.deepEqual(literal('A = -0.5'), { kind: 'number', value: -0.5, integer: false });
    assert.deepEqual(literal('A = .5'), { kind: 'number', value: 0.5, integer: false });
    assert.deepEqual(literal('A = 2.'), { kind: 'number', value: 2, integer: false });
    assert.deepEqual(literal('A = 1e3'), { kind: 'number', value: 1000, integer: false });
    assert.deepEqual(literal('A = -1.5E-2'), { kind: 'number', value: -0.015, integer: false });
    assert.deepEqual(literal('A = true'), { kind: 'boolean', value: true });
    assert.deepEqual(literal('A = FALSE'), { kind: 'boolean', value: false });
    assert.deepEqual(literal('A = True'), { kind: 'boolean', value: true });
  });

  test('IN and NOT IN lists', () => {
    assert.equal(parse("A IN ('x')"), '(in A ["x"])');
    assert.equal(parse("A IN ('x', 'y','z' )"), '(in A ["x" "y" "z"])');
    assert.equal(parse('A NOT IN (1, -2, 3.5)'), '(not-in A [1 -2 3.5])');
    assert.equal(parse('A in(1)'), '(in A [1])');
  });

  test('BETWEEN and NOT BETWEEN, whose AND is not a conjunction', () => {
    assert.equal(parse('A BETWEEN 1 AND 5'), '(between A 1 5)');
    assert.equal(parse("A NOT BETWEEN 'a' AND 'b'"), '(not-between A "a" "b")');
    assert.equal(
      parse('A BETWEEN 1 AND 5 AND B = 2 OR C BETWEEN 3 AND 4'),
      '(or (and (between A 1 5) (= B 2)) (between C 3 4))',
    );
  });

  test('STARTS_WITH, NOT STARTS_WITH, IS NULL, IS NOT NULL', () => {
    assert.equal(parse("WorkflowId STARTS_WITH 'order-'"), '(starts-with WorkflowId "order-")');
    assert.equal(parse("WorkflowId not starts_with 'x'"), '(not-starts-with WorkflowId "x")');
    assert.equal(parse('CloseTime IS NULL'), '(is-null CloseTime)');
    assert.equal(parse('CloseTime is not NULL'), '(is-not-null CloseTime)');
  });

  test('keywords are case-insensitive; attribute names keep their case', () => {
    assert.equal(
      parse("workflowType in ('a') and NoT x Is Not Null oR y BeTwEeN 1 aNd 2"),
      '(or (and (in workflowType ["a"]) (not (is-not-null x))) (between y 1 2))',
    );
  });

  test('backticks quote any attribute name, keywords included', () => {
    assert.equal(parse("`Not` = 'x'"), '(= Not "x")');
    assert.equal(parse("`Custom Field-1` IN ('x')"), '(in Custom Field-1 ["x"])');
    assert.equal(parse('`a``b` = 1'), '(= a`b 1)');
    const { expression } = parseListQuery('  `And` IS NULL');
    assert.equal(expression?.kind, 'isNull');
    assert.deepEqual(expression.attribute, { name: 'And', position: 2, text: '`And`' });
  });

  test('any whitespace separates tokens', () => {
    assert.equal(
      parse("\n\tWorkflowType\n=\n'a'\r\nAND\tHistoryLength   >  3\n"),
      '(and (= WorkflowType "a") (> HistoryLength 3))',
    );
  });
});

describe('parseListQuery: precedence', () => {
  test('AND binds tighter than OR', () => {
    assert.equal(parse('A = 1 OR B = 2 AND C = 3'), '(or (= A 1) (and (= B 2) (= C 3)))');
    assert.equal(parse('A = 1 AND B = 2 OR C = 3'), '(or (and (= A 1) (= B 2)) (= C 3))');
  });

  test('NOT binds tighter than AND', () => {
    assert.equal(parse('NOT A = 1 AND B = 2'), '(and (not (= A 1)) (= B 2))');
    assert.equal(parse('A = 1 AND NOT B = 2 OR C = 3'), '(or (and (= A 1) (not (= B 2))) (= C 3))');
    assert.equal(parse('NOT NOT A = 1'), '(not (not (= A 1)))');
  });

  test('parentheses group', () => {
    assert.equal(parse('(A = 1 OR B = 2) AND C = 3'), '(and (or (= A 1) (= B 2)) (= C 3))');
    assert.equal(parse('NOT (A = 1 OR B = 2)'), '(not (or (= A 1) (= B 2)))');
    assert.equal(parse('((((A = 1))))'), '(= A 1)');
    assert.equal(
      parse('A = 1 AND (B = 2 OR (C = 3 AND NOT (D = 4 OR E = 5)))'),
      '(and (= A 1) (or (= B 2) (and (= C 3) (not (or (= D 4) (= E 5))))))',
    );
  });

  test('chains of the same operator are flattened, as are nested groups of it', () => {
    assert.equal(parse('A = 1 AND B = 2 AND C = 3'), '(and (= A 1) (= B 2) (= C 3))');
    assert.equal(
      parse('A = 1 OR (B = 2 OR C = 3) OR D = 4'),
      '(or (= A 1) (= B 2) (= C 3) (= D 4))',
    );
    assert.equal(parse('(A = 1 AND B = 2) AND C = 3'), '(and (= A 1) (= B 2) (= C 3))');
  });
});

describe('parseListQuery: errors point at the offending token', () => {
  test('a keyword where a value is expected', () => {
    const error = parseError('ExecutionStatus = AND', {
      detail: "expected a value after '=' at position 18 (found 'AND')",
      position: 18,
      token: 'AND',
    });
    assert.ok(error instanceof Error);
    assert.equal(
      error.message,
      [
        "Invalid list query: expected a value after '=' at position 18 (found 'AND')",
        '  ExecutionStatus = AND',
        '                    ^',
      ].join('\n'),
    );
    parseError("WorkflowType IN ('a', OR)", {
      detail: "expected a value after ',' at position 22 (found 'OR')",
      position: 22,
    });
    parseError('A BETWEEN 1 AND and', {
      detail: "expected a value after 'AND' at position 16 (found 'and')",
      position: 16,
    });
  });

  test('the end of the query where a value is expected', () => {
    parseError('WorkflowType =', {
      detail: "expected a value after '=' at position 14 (found the end of the query)",
      position: 14,
      token: '',
    });
    parseError('WorkflowType =   ', {
      detail: "expected a value after '=' at position 17 (found the end of the query)",
      position: 17,
    });
  });

  test('an unquoted word or NULL as a value, with a hint', () => {
    parseError('WorkflowType = order', {
      detail:
        "expected a value after '=' at position 15 (found 'order'); strings are quoted: 'order'",
      position: 15,
      token: 'order',
    });
    parseError('CloseTime = null', {
      detail:
        "expected a value after '=' at position 12 (found 'null'); test for a missing attribute with IS NULL or IS NOT NULL",
      position: 12,
    });
  });

  test('an unterminated string points at its opening quote', () => {
    parseError("WorkflowType = 'abc", {
      detail: "unterminated string at position 15 (no closing ')",
      position: 15,
      token: "'abc",
    });
    parseError('A = "it\'s', {
      detail: 'unterminated string at position 4 (no closing ")',
      position: 4,
    });
    parseError("A = 'ends with backslash\\'", {
      detail: "unterminated string at position 4 (no closing ')",
      position: 4,
    });
  });

  test('an unknown escape sequence points at the backslash', () => {
    parseError("A = 'C:\\path'", {
      detail:
        "unknown escape sequence '\\p' in a string at position 7 (escapes are \\', \\\", \\\\, \\n, \\t, \\r; or double the quote)",
      position: 7,
      token: '\\p',
    });
  });

  test('unknown operators: ==, =>, =<, !, !==, <<; <> is accepted', () => {
    parseError("WorkflowType == 'a'", {
      detail: "unknown operator '==' at position 13 (use '=')",
      position: 13,
      token: '==',
    });
    parseError('A => 1', { detail: "unknown operator '=>' at position 2 (use '>=')", position: 2 });
    parseError('A =< 1', { detail: "unknown operator '=<' at position 2 (use '<=')", position: 2 });
    parseError('A ! 1', {
      detail: "unknown operator '!' at position 2 (use '!=' or NOT)",
      position: 2,
    });
    parseError('A !== 1', {
      detail: "unknown operator '!==' at position 2 (use '!=')",
      position: 2,
    });
    parseError('A << 1', {
      detail: "unknown operator '<<' at position 2 (operators are =, !=, <>, <, <=, >, >=)",
      position: 2,
    });
    assert.equal(parse('A <> 1'), '(!= A 1)');
  });

  test('a missing operator, or a word that is not one', () => {
    parseError("WorkflowType 'a'", {
      detail:
        "expected an operator (=, !=, <, <=, >, >=, IN, NOT IN, BETWEEN, NOT BETWEEN, STARTS_WITH, IS NULL, IS NOT NULL) after 'WorkflowType' at position 13 (found 'a')",
      position: 13,
    });
    parseError("WorkflowId LIKE 'a%'", {
      detail: /^expected an operator \(.*\) after 'WorkflowId' at position 11 \(found 'LIKE'\)$/,
      position: 11,
      token: 'LIKE',
    });
    parseError('WorkflowId', {
      detail: /^expected an operator .* at position 10 \(found the end of the query\)$/,
      position: 10,
    });
    parseError("WorkflowType NOT = 'a'", {
      detail: "expected IN, BETWEEN or STARTS_WITH after 'NOT' at position 17 (found '=')",
      position: 17,
    });
    parseError('CloseTime IS NUL', {
      detail: "expected NULL or NOT NULL after 'IS' at position 13 (found 'NUL')",
      position: 13,
    });
    parseError('CloseTime IS NOT 0', {
      detail: "expected NULL after 'NOT' at position 17 (found 0)",
      position: 17,
    });
  });

  test('malformed lists and ranges', () => {
    parseError("A IN 'x'", {
      detail: "expected '(' after 'IN' at position 5 (found 'x')",
      position: 5,
    });
    parseError('A IN ()', {
      detail: "expected a value after '(' at position 6 (found ')')",
      position: 6,
    });
    parseError("A IN ('x',)", {
      detail: "expected a value after ',' at position 10 (found ')')",
      position: 10,
    });
    parseError("A IN ('x' 'y')", {
      detail: "expected ',' or ')' after 'x' at position 10 (found 'y')",
      position: 10,
    });
    parseError("A IN ('x'", {
      detail: "expected ',' or ')' after 'x' at position 9 (found the end of the query)",
      position: 9,
    });
    parseError('A BETWEEN 1 OR 2', {
      detail: "expected AND after 1 at position 12 (found 'OR')",
      position: 12,
    });
  });

  test('unbalanced parentheses', () => {
    parseError("(WorkflowType = 'a'", {
      detail:
        "expected ')' at position 19 to close the '(' at position 0 (found the end of the query)",
      position: 19,
    });
    parseError('((A = 1) OR (B = 2)', {
      detail:
        "expected ')' at position 19 to close the '(' at position 0 (found the end of the query)",
      position: 19,
    });
    parseError("WorkflowType = 'a')", {
      detail: "unexpected ')' at position 18 (no matching '(')",
      position: 18,
      token: ')',
    });
    parseError('(A = 1))', {
      detail: "unexpected ')' at position 7 (no matching '(')",
      position: 7,
    });
    parseError('()', {
      detail:
        "expected a condition (an attribute name, NOT or '(') after '(' at position 1 (found ')')",
      position: 1,
    });
    parseError('(A = 1 B = 2)', {
      detail:
        "expected ')' at position 7 to close the '(' at position 0 (found 'B'); is an AND or OR missing?",
      position: 7,
    });
  });

  test('trailing garbage and a missing AND between conditions', () => {
    parseError("WorkflowType = 'a' TaskQueue = 'q'", {
      detail:
        "expected AND, OR or the end of the query after 'a' at position 19 (found 'TaskQueue'); is an AND or OR missing?",
      position: 19,
      token: 'TaskQueue',
    });
    parseError("WorkflowType = 'a' 'b'", {
      detail: "expected AND, OR or the end of the query after 'a' at position 19 (found 'b')",
      position: 19,
    });
    parseError("WorkflowType = 'a' ORDER BY StartTime", {
      detail:
        "expected AND, OR or the end of the query after 'a' at position 19 (found 'ORDER'); is an AND or OR missing?",
      position: 19,
    });
    parseError('A = 1 NOT B = 2', {
      detail: "expected AND, OR or the end of the query after 1 at position 6 (found 'NOT')",
      position: 6,
    });
  });

  test('a dangling AND, OR or NOT', () => {
    parseError("WorkflowType = 'a' AND", {
      detail:
        "expected a condition (an attribute name, NOT or '(') after 'AND' at position 22 (found the end of the query)",
      position: 22,
    });
    parseError("OR WorkflowType = 'a'", {
      detail: "expected a condition (an attribute name, NOT or '(') at position 0 (found 'OR')",
      position: 0,
    });
    parseError('A = 1 AND OR B = 2', {
      detail:
        "expected a condition (an attribute name, NOT or '(') after 'AND' at position 10 (found 'OR')",
      position: 10,
    });
    parseError('NOT', {
      detail:
        "expected a condition (an attribute name, NOT or '(') after 'NOT' at position 3 (found the end of the query)",
      position: 3,
    });
  });

  test('a keyword or a value where an attribute name is expected', () => {
    parseError("IN = 'x'", {
      detail:
        "expected a condition (an attribute name, NOT or '(') at position 0 (found 'IN'); to use IN as an attribute name, quote it: `IN`",
      position: 0,
    });
    parseError("'order' = WorkflowType", {
      detail:
        "expected a condition (an attribute name, NOT or '(') at position 0 (found 'order'); a condition starts with the attribute name",
      position: 0,
    });
  });

  test('bad characters, numbers and quoted names', () => {
    parseError("WorkflowType = 'a' # comment", {
      detail: "unexpected character '#' at position 19",
      position: 19,
      token: '#',
    });
    parseError('A = -x', {
      detail: "unexpected character '-' at position 4 (a negative number is written '-5')",
      position: 4,
    });
    parseError('A = 😀', {
      detail: "unexpected character '😀' at position 4",
      position: 4,
      token: '😀',
    });
    parseError('A = 12abc', { detail: "invalid number '12abc' at position 4", position: 4 });
    parseError('A = 1.2.3', { detail: "invalid number '1.2.3' at position 4", position: 4 });
    parseError('A = 1e999', { detail: "invalid number '1e999' at position 4", position: 4 });
    parseError('`Unclosed = 1', {
      detail: 'unterminated attribute name at position 0 (no closing `)',
      position: 0,
    });
    parseError('`` = 1', { detail: 'empty attribute name at position 0', position: 0 });
  });

  test('in a multi-line query, the caret line is under the offending line', () => {
    const query = "WorkflowType = 'a'\n  AND\tHistoryLength >> 3\n  AND x = 1";
    const error = parseError(query, {
      detail: "unknown operator '>>' at position 39 (operators are =, !=, <>, <, <=, >, >=)",
      position: 39,
    });
    assert.deepEqual(error.message.split('\n').slice(1), [
      '    AND HistoryLength >> 3',
      '                      ^',
    ]);
  });

  test('the first error in reading order is the one reported', () => {
    parseError("A = = 'unterminated", {
      detail: "expected a value after '=' at position 4 (found '=')",
      position: 4,
    });
  });
});

const types = new Map([
  ['CustomerId', SearchAttributeType.KEYWORD],
  ['Description', SearchAttributeType.TEXT],
  ['Amount', SearchAttributeType.INT],
  ['Score', SearchAttributeType.DOUBLE],
  ['Paid', SearchAttributeType.BOOL],
  ['DueDate', SearchAttributeType.DATETIME],
  ['Tags', SearchAttributeType.KEYWORD_LIST],
]);
const resolve = (query: string) => resolveListQuery(query, types).filter;
const resolveError = (query: string, expected: Parameters<typeof assertListQueryError>[2]) =>
  assertListQueryError(() => resolveListQuery(query, types), query, expected);

describe('resolveListQuery', () => {
  test('an empty query resolves to no filter', () => {
    assert.deepEqual(resolveListQuery('', types), { query: '', filter: undefined });
    assert.deepEqual(resolveListQuery(parseListQuery(' ')), { query: ' ', filter: undefined });
  });

  test('built-in attributes resolve to columns; custom ones to their registered type', () => {
    assert.deepEqual(resolve("WorkflowType = 'order'"), {
      kind: 'predicate',
      attribute: {
        source: 'builtin',
        name: 'WorkflowType',
        type: 'Keyword',
        column: 'workflow_type',
        nullable: false,
      },
      negated: false,
      test: { op: 'equals', value: 'order' },
    });
    assert.deepEqual(resolve("CustomerId != 'c-1'"), {
      kind: 'predicate',
      attribute: { source: 'custom', name: 'CustomerId', type: 'Keyword' },
      negated: true,
      test: { op: 'equals', value: 'c-1' },
    });
  });

  test('negated forms resolve to negated predicates; IS NULL to a negated exists', () => {
    const tests = (query: string) => {
      const filter = resolve(query);
      assert.equal(filter?.kind, 'predicate');
      return { negated: filter.negated, test: filter.test };
    };
    assert.deepEqual(tests('CloseTime IS NULL'), { negated: true, test: { op: 'exists' } });
    assert.deepEqual(tests('CloseTime IS NOT NULL'), { negated: false, test: { op: 'exists' } });
    assert.deepEqual(tests("Tags NOT IN ('a', 'b')"), {
      negated: true,
      test: { op: 'in', values: ['a', 'b'] },
    });
    assert.deepEqual(tests('Amount NOT BETWEEN 1 AND 2'), {
      negated: true,
      test: { op: 'between', low: 1, high: 2 },
    });
    assert.deepEqual(tests("WorkflowId NOT STARTS_WITH 'x'"), {
      negated: true,
      test: { op: 'startsWith', prefix: 'x' },
    });
    assert.deepEqual(tests('Score < 2.5'), {
      negated: false,
      test: { op: 'compare', comparator: '<', value: 2.5 },
    });
    assert.deepEqual(tests('Paid = true'), { negated: false, test: { op: 'equals', value: true } });
  });

  test('Datetime strings become epoch milliseconds, zone offsets applied', () => {
    assert.deepEqual(
      resolve("StartTime BETWEEN '2026-11-25T10:00:00Z' AND '2026-11-25T11:00:00.5+01:00'"),
      {
        kind: 'predicate',
        attribute: {
          source: 'builtin',
          name: 'StartTime',
          type: 'Datetime',
          column: 'start_time',
          nullable: false,
        },
        negated: false,
        test: {
          op: 'between',
          low: Date.UTC(2026, 10, 25, 10),
          high: Date.UTC(2026, 10, 25, 10, 0, 0, 500),
        },
      },
    );
    const filter = resolve("DueDate IN ('2026-01-01', '2026-01-02T00:00:00-02:00')");
    assert.equal(filter?.kind, 'predicate');
    assert.deepEqual(filter.test, {
      op: 'in',
      values: [Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 2, 2)],
    });
  });

  test('the structure of AND, OR and NOT is kept', () => {
    const filter = resolve("NOT (CustomerId = 'a' OR Amount > 1) AND Paid = false");
    assert.equal(filter?.kind, 'and');
    assert.deepEqual(
      filter.operands.map((operand) => operand.kind),
      ['not', 'predicate'],
    );
  });

  test('a built-in attribute wins over a registry entry of the same name', () => {
    const filter = resolveListQuery(
      "WorkflowId = 'x'",
      new Map([['WorkflowId', SearchAttributeType.TEXT]]),
    ).filter;
    assert.equal(filter?.kind, 'predicate');
    assert.equal(filter.attribute.source, 'builtin');
  });

  test('every status value is accepted, ContinuedAsNew included', () => {
    for (const status of [
      'Running',
      'Completed',
      'Failed',
      'Canceled',
      'Terminated',
      'TimedOut',
      'ContinuedAsNew',
    ]) {
      const filter = resolve(`ExecutionStatus = '${status}'`);
      assert.equal(filter?.kind, 'predicate');
      assert.deepEqual(filter.test, { op: 'equals', value: status });
    }
  });
});

describe('resolveListQuery: type errors', () => {
  test('an unknown attribute is named, with the known ones listed', () => {
    resolveError("CustomerID = 'x'", {
      detail:
        "unknown search attribute 'CustomerID' at position 0 (did you mean 'CustomerId'?); known attributes: built-in: WorkflowId, RunId, WorkflowType, TaskQueue, ExecutionStatus, StartTime, CloseTime, HistoryLength; custom: Amount, CustomerId, Description, DueDate, Paid, Score, Tags",
      position: 0,
      token: 'CustomerID',
    });
    resolveError("WorkflowType = 'a' AND `Order Id` = 'x'", {
      detail:
        /^unknown search attribute 'Order Id' at position 23; known attributes: built-in: WorkflowId, /,
      position: 23,
      token: '`Order Id`',
    });
    assertListQueryError(() => resolveListQuery('workflowtype = 1'), 'workflowtype = 1', {
      detail:
        "unknown search attribute 'workflowtype' at position 0 (did you mean 'WorkflowType'?); known attributes: built-in: WorkflowId, RunId, WorkflowType, TaskQueue, ExecutionStatus, StartTime, CloseTime, HistoryLength; no custom ones",
      position: 0,
    });
  });

  test('a value of the wrong type says which type is expected', () => {
    resolveError('CustomerId = 42', {
      detail: 'expected a string for Keyword attribute CustomerId at position 13 (found 42)',
      position: 13,
      token: '42',
    });
    resolveError("Amount = 'x'", {
      detail: "expected an integer for Int attribute Amount at position 9 (found 'x')",
      position: 9,
    });
    resolveError('Amount > 1.5', {
      detail: 'expected an integer for Int attribute Amount at position 9 (found 1.5)',
      position: 9,
    });
    resolveError('StartTime = 5', {
      detail:
        "expected an RFC 3339 date-time string such as '2026-11-25T10:00:00Z' for Datetime attribute StartTime at position 12 (found 5)",
      position: 12,
    });
    resolveError('Score = TRUE', {
      detail: 'expected a number for Double attribute Score at position 8 (found true)',
      position: 8,
    });
    resolveError("Paid = 'true'", {
      detail: "expected true or false for Bool attribute Paid at position 7 (found 'true')",
      position: 7,
    });
    resolveError('Tags = 1', {
      detail: 'expected a string for KeywordList attribute Tags at position 7 (found 1)',
      position: 7,
    });
    resolveError('HistoryLength = "10"', {
      detail: 'expected an integer for Int attribute HistoryLength at position 16 (found "10")',
      position: 16,
    });
    resolveError("WorkflowType IN ('a', 2, 'c')", {
      detail: 'expected a string for Keyword attribute WorkflowType at position 22 (found 2)',
      position: 22,
    });
    resolveError('Amount = 9007199254740993', {
      detail:
        'integer out of range for Int attribute Amount at position 9 (found 9007199254740993; the limit is ±9007199254740991)',
      position: 9,
    });
  });

  test('an invalid date is an error showing the accepted forms', () => {
    for (const [query, position] of [
      ["StartTime > '2026-13-01T00:00:00Z'", 12],
      ["StartTime > 'yesterday'", 12],
      ["CloseTime BETWEEN '2026-11-01' AND '2026-02-30'", 35],
      ["DueDate < '2026-11-25T10:00:00'", 10],
    ] as const) {
      resolveError(query, {
        detail: new RegExp(
          `^invalid date-time for Datetime attribute \\w+ at position ${position} \\(found '[^']*'\\); expected RFC 3339 such as '2026-11-25T10:00:00Z', '2026-11-25T11:00:00.5\\+01:00' or '2026-11-25'$`,
        ),
        position,
      });
    }
  });

  test('an unknown ExecutionStatus lists the valid ones', () => {
    resolveError("ExecutionStatus = 'Done'", {
      detail:
        "unknown ExecutionStatus value at position 18 (found 'Done'); valid values: Running, Completed, Failed, Canceled, Terminated, TimedOut, ContinuedAsNew",
      position: 18,
    });
    resolveError("ExecutionStatus IN ('Running', 'cancelled', 'timedout')", {
      detail:
        "unknown ExecutionStatus value at position 31 (found 'cancelled'); valid values: Running, Completed, Failed, Canceled, Terminated, TimedOut, ContinuedAsNew",
      position: 31,
    });
    resolveError("ExecutionStatus != 'timedout'", {
      detail:
        "unknown ExecutionStatus value at position 19 (found 'timedout'; did you mean 'TimedOut'?); valid values: Running, Completed, Failed, Canceled, Terminated, TimedOut, ContinuedAsNew",
      position: 19,
    });
  });

  test('an operator the type does not support names both, at the operator', () => {
    resolveError("Description < 'x'", {
      detail:
        "operator '<' is not supported for Text attribute Description at position 12 (supported: =, !=, IS NULL, IS NOT NULL)",
      position: 12,
      token: '<',
    });
    resolveError("Description IN ('x')", {
      detail: /^operator 'IN' is not supported for Text attribute Description at position 12 /,
      position: 12,
    });
    resolveError("Tags BETWEEN 'a' AND 'b'", {
      detail:
        "operator 'BETWEEN' is not supported for KeywordList attribute Tags at position 5 (supported: =, !=, IN, NOT IN, IS NULL, IS NOT NULL)",
      position: 5,
    });
    resolveError("Tags STARTS_WITH 'a'", {
      detail:
        /^operator 'STARTS_WITH' is not supported for KeywordList attribute Tags at position 5 /,
      position: 5,
    });
    resolveError('Paid > false', {
      detail:
        "operator '>' is not supported for Bool attribute Paid at position 5 (supported: =, !=, IS NULL, IS NOT NULL)",
      position: 5,
    });
    resolveError("Amount not   STARTS_WITH '1'", {
      detail:
        /^operator 'NOT STARTS_WITH' is not supported for Int attribute Amount at position 7 /,
      position: 7,
      token: 'not   STARTS_WITH',
    });
    resolveError("StartTime STARTS_WITH '2026'", {
      detail:
        /^operator 'STARTS_WITH' is not supported for Datetime attribute StartTime at position 10 /,
      position: 10,
    });
    resolveError("ExecutionStatus < 'Running'", {
      detail:
        "operator '<' is not supported for ExecutionStatus at position 16 (supported: =, !=, IN, NOT IN)",
      position: 16,
    });
    resolveError('ExecutionStatus IS NULL', {
      detail:
        "operator 'IS NULL' is not supported for ExecutionStatus at position 16 (supported: =, !=, IN, NOT IN)",
      position: 16,
      token: 'IS NULL',
    });
  });

  test('a Text match needs at least one word', () => {
    resolveError("Description = ' -- '", {
      detail:
        "expected at least one word to match in Text attribute Description with = at position 14 (found ' -- ')",
      position: 14,
    });
  });

  test('errors are ListQueryErrors whatever the stage', () => {
    assert.throws(() => resolveListQuery('A =', types), ListQueryError);
    assert.throws(() => resolveListQuery('A = 1', types), ListQueryError);
  });
});

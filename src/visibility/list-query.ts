/**
 * # Visibility queries (List Filter)
 *
 * `client.workflow.list({ query })` and `client.workflow.count({ query })` take a filter written
 * like the WHERE clause of an SQL query, modelled on Temporal's List Filter:
 *
 * ```text
 * WorkflowType = 'order' AND ExecutionStatus = 'Running' AND CustomerId = 'c-42'
 * StartTime BETWEEN '2026-11-01T00:00:00Z' AND '2026-12-01T00:00:00Z'
 * (ExecutionStatus = 'Failed' OR ExecutionStatus = 'TimedOut') AND NOT Tags = 'test'
 * WorkflowId STARTS_WITH 'order-' AND CloseTime IS NULL
 * ```
 *
 * An empty (or all-blank) query matches every workflow run.
 *
 * ## Grammar
 *
 * ```text
 * query      = [ or ] ;
 * or         = and { "OR" and } ;
 * and        = not { "AND" not } ;
 * not        = "NOT" not | "(" or ")" | condition ;
 * condition  = attribute ( ( "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=" ) value
 *                        | [ "NOT" ] "IN" "(" value { "," value } ")"
 *                        | [ "NOT" ] "BETWEEN" value "AND" value
 *                        | [ "NOT" ] "STARTS_WITH" value
 *                        | "IS" [ "NOT" ] "NULL" ) ;
 * attribute  = name | "`" any characters, with `` for a backtick "`" ;
 * value      = string | number | "TRUE" | "FALSE" ;
 * ```
 *
 * - Precedence, tightest first: `NOT`, `AND`, `OR`; parentheses group.
 *   `NOT a = 1 AND b = 2 OR c = 3` means `((NOT a = 1) AND b = 2) OR c = 3`.
 * - Keywords (`AND OR NOT IN BETWEEN STARTS_WITH IS NULL TRUE FALSE`) are case-insensitive.
 *   Attribute names are case-sensitive; a name is letters, digits and `_`, not starting with a
 *   digit. Quote any other name, or one that is a keyword, with backticks: `` `In` = 'x' ``.
 * - Strings are in single or double quotes. The quote is escaped by doubling it (`'it''s'`) or by a
 *   backslash (`'it\'s'`); `\\`, `\n`, `\t`, `\r` are the other escapes, any other is an error.
 * - Numbers: `42`, `-7`, `3.25`, `-0.5`, `.5`, `1e6` (the `-` is part of the number: `- 7` is an
 *   error). Booleans: `true`, `false`.
 * - `<>` is accepted as a synonym of `!=`. `==`, `=>`, `=<`, `!` and other runs of `= ! < >` are
 *   errors (with a hint), as are unquoted words where a value is expected (`WorkflowType = order`)
 *   and `= NULL` (write `IS NULL`).
 *
 * ## Attributes
 *
 * Built-in: `WorkflowId`, `RunId`, `WorkflowType`, `TaskQueue` (Keyword), `ExecutionStatus`
 * (one of `Running`, `Completed`, `Failed`, `Canceled`, `Terminated`, `TimedOut`,
 * `ContinuedAsNew`; only `=`, `!=`, `IN`, `NOT IN`), `StartTime`, `CloseTime` (Datetime; CloseTime
 * is null while the run is open), `HistoryLength` (Int).
 *
 * Custom search attributes have a registered type, which decides the values and operators:
 *
 * | Type        | Values           | Operators                                                          |
 * | ----------- | ---------------- | ------------------------------------------------------------------ |
 * | Keyword     | string           | `= != < <= > >=`, `[NOT] IN`, `[NOT] BETWEEN`, `[NOT] STARTS_WITH` |
 * | Int         | integer          | `= != < <= > >=`, `[NOT] IN`, `[NOT] BETWEEN`                      |
 * | Double      | number           | `= != < <= > >=`, `[NOT] IN`, `[NOT] BETWEEN`                      |
 * | Datetime    | RFC 3339 string  | `= != < <= > >=`, `[NOT] IN`, `[NOT] BETWEEN`                      |
 * | Text        | string           | `=` (contains all the words), `!=`                                 |
 * | Bool        | `true` / `false` | `=`, `!=`                                                          |
 * | KeywordList | string           | `=` (has the element), `!=`, `IN` (has one of), `NOT IN`           |
 *
 * and `IS NULL` / `IS NOT NULL` for every type: whether the run has the attribute at all.
 * The built-in attributes follow their type, except ExecutionStatus (above).
 *
 * - Datetime values are RFC 3339 strings: `'2026-11-25T10:00:00Z'`, `'2026-11-25T11:00:00+01:00'`,
 *   `'2026-11-25T10:00:00.250Z'`; a bare date `'2026-11-25'` is midnight UTC; a time without a
 *   zone is an error. Precision is the millisecond (further digits are dropped). Numbers (epoch
 *   milliseconds) are not accepted.
 * - Int values are integers within ±(2^53 − 1); Double values any number.
 * - Keyword comparisons are exact and case-sensitive (ordered by code point);
 *   `STARTS_WITH` is a case-sensitive prefix test: no character is a wildcard.
 * - Text `=` splits the value into words (runs of ASCII letters and digits, `_`, and non-ASCII
 *   characters) and matches a run whose text contains every one of them as a whole word, in any
 *   order, ignoring the case of ASCII letters (non-ASCII letters must match exactly):
 *   `Description = 'Fox'` matches "the quick brown fox." but not "foxes".
 * - A condition on an attribute a run does not have is false, and the negated forms are its exact
 *   negation: `!=`, `NOT IN`, `NOT BETWEEN`, `NOT STARTS_WITH` and `NOT (...)` match runs without
 *   the attribute. For a KeywordList, `!=` and `NOT IN` mean "no element equals".
 *
 * ## Errors
 *
 * A query that does not parse or does not type-check throws a {@link ListQueryError} whose message
 * says what was expected and where, and shows the query with a caret under the offending token
 * (for a multi-line query, the line holding it):
 *
 * ```text
 * Invalid list query: expected a value after '=' at position 15 (found 'AND')
 *   WorkflowType = AND TaskQueue = 'q'
 *                  ^
 * ```
 *
 * This module holds the language: the tokenizer, the parser ({@link parseListQuery}, giving a
 * {@link ListQuery} syntax tree) and the type checker ({@link resolveListQuery}, giving a
 * dialect-independent {@link ResolvedListQuery}). `sqlite-filter.ts` compiles the latter to SQL; a
 * PostgreSQL compiler belongs next to it and starts from the same {@link ResolvedListQuery}.
 */
import {
  BUILT_IN_SEARCH_ATTRIBUTES,
  SearchAttributeType,
  parseDatetime,
  type SearchAttributeTypes,
} from './search-attributes.ts';

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * A visibility query that does not parse or does not type-check. The message has three lines: what
 * was expected and where, the query (the line of it holding the error), and a caret under the
 * offending position.
 *
 * @example
 * ```ts
 * try {
 *   parseListQuery("WorkflowType == 'a'");
 * } catch (error) {
 *   if (error instanceof ListQueryError) {
 *     error.position; // 13
 *     error.token; // '=='
 *     error.detail; // "unknown operator '==' at position 13 (use '=')"
 *   }
 * }
 * ```
 */
export class ListQueryError extends Error {
  override name = 'ListQueryError';
  constructor(
    /** The query as given. */
    readonly query: string,
    /**
     * 0-based index into `query` (in UTF-16 code units, as JavaScript strings count) of the
     * offending token; `query.length` for the end of the query.
     */
    readonly position: number,
    /** The offending token as written; `''` at the end of the query. */
    readonly token: string,
    /** The first line of the message without the "Invalid list query: " prefix. */
    readonly detail: string,
  ) {
    super(`Invalid list query: ${detail}\n${pointAt(query, position)}`);
  }
}

/** The line of `query` holding `position`, and a caret under it, each indented by two spaces. */
function pointAt(query: string, position: number): string {
  const start = query.lastIndexOf('\n', position - 1) + 1;
  const newline = query.indexOf('\n', position);
  const line = query.slice(start, newline === -1 ? query.length : newline);
  return `  ${line.replace(/[\t\r\v\f]/g, ' ')}\n  ${' '.repeat(position - start)}^`;
}

// ---------------------------------------------------------------------------------------------
// Syntax tree

/** A literal value as written in the query. */
export type Literal =
  | { kind: 'string'; value: string; position: number; text: string }
  | { kind: 'number'; value: number; integer: boolean; position: number; text: string }
  | { kind: 'boolean'; value: boolean; position: number; text: string };

/** An attribute name, as written (without backticks). */
export interface AttributeName {
  name: string;
  position: number;
  /** As written, with the backticks if quoted. */
  text: string;
}

/** The comparison operators; `<>` is parsed as `!=`. */
export type ComparisonOperator = '=' | '!=' | '<' | '<=' | '>' | '>=';

/** Every operator of the language, as named in error messages and in the type table. */
export type ListQueryOperator =
  | ComparisonOperator
  | 'IN'
  | 'NOT IN'
  | 'BETWEEN'
  | 'NOT BETWEEN'
  | 'STARTS_WITH'
  | 'NOT STARTS_WITH'
  | 'IS NULL'
  | 'IS NOT NULL';

interface ConditionBase {
  attribute: AttributeName;
  /** Position of the operator (of `NOT` in `NOT IN`, of `IS` in `IS NULL`). */
  operatorPosition: number;
  /** The operator as written (`<>`, `not  in`, `IS NULL`). */
  operatorText: string;
}

/** One condition on one attribute: a leaf of the syntax tree. */
export type Condition =
  | (ConditionBase & { kind: 'comparison'; operator: ComparisonOperator; value: Literal })
  | (ConditionBase & { kind: 'in'; negated: boolean; values: Literal[] })
  | (ConditionBase & { kind: 'between'; negated: boolean; low: Literal; high: Literal })
  | (ConditionBase & { kind: 'startsWith'; negated: boolean; prefix: Literal })
  | (ConditionBase & { kind: 'isNull'; negated: boolean });

/** A node of the syntax tree. `and` / `or` are flattened: `a AND b AND c` is one node. */
export type Expression =
  | { kind: 'and'; operands: Expression[] }
  | { kind: 'or'; operands: Expression[] }
  | { kind: 'not'; operand: Expression; position: number }
  | Condition;

/** A parsed query: `expression` is undefined for an empty query (everything matches). */
export interface ListQuery {
  query: string;
  expression: Expression | undefined;
}

/** The operator of a condition, as the user wrote it (`NOT IN`, `IS NOT NULL`, ...). */
export function conditionOperator(condition: Condition): ListQueryOperator {
  switch (condition.kind) {
    case 'comparison':
      return condition.operator;
    case 'in':
      return condition.negated ? 'NOT IN' : 'IN';
    case 'between':
      return condition.negated ? 'NOT BETWEEN' : 'BETWEEN';
    case 'startsWith':
      return condition.negated ? 'NOT STARTS_WITH' : 'STARTS_WITH';
    case 'isNull':
      return condition.negated ? 'IS NOT NULL' : 'IS NULL';
  }
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

const KEYWORDS = [
  'AND',
  'OR',
  'NOT',
  'IN',
  'BETWEEN',
  'STARTS_WITH',
  'IS',
  'NULL',
  'TRUE',
  'FALSE',
] as const;
type Keyword = (typeof KEYWORDS)[number];
const KEYWORD_SET: ReadonlySet<string> = new Set(KEYWORDS);

type Token = { position: number; text: string } & (
  | { kind: 'identifier'; name: string }
  | { kind: 'keyword'; keyword: Keyword }
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number; integer: boolean }
  | { kind: 'operator'; operator: ComparisonOperator }
  | { kind: '(' | ')' | ',' | 'end' }
);

const OPERATORS: Readonly<Record<string, ComparisonOperator>> = {
  '=': '=',
  '!=': '!=',
  '<>': '!=',
  '<': '<',
  '<=': '<=',
  '>': '>',
  '>=': '>=',
};
const OPERATOR_HINTS: Readonly<Record<string, string>> = {
  '==': "use '='",
  '===': "use '='",
  '!==': "use '!='",
  '=<': "use '<='",
  '=>': "use '>='",
  '!': "use '!=' or NOT",
};
const ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  n: '\n',
  t: '\t',
  r: '\r',
};

const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER = /-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const NUMBER_TAIL = /[A-Za-z0-9_.]+/y;
const OPERATOR_RUN = /[=!<>]+/y;

/** Reads tokens on demand, so that the first error in reading order is the one reported. */
class Lexer {
  private offset = 0;
  private peeked: Token | undefined;

  constructor(private readonly query: string) {}

  peek(): Token {
    return (this.peeked ??= this.scan());
  }

  next(): Token {
    const token = this.peek();
    this.peeked = undefined;
    return token;
  }

  error(position: number, token: string, detail: string): ListQueryError {
    return new ListQueryError(this.query, position, token, detail);
  }

  private scan(): Token {
    const q = this.query;
    while (this.offset < q.length && /\s/.test(q.charAt(this.offset))) this.offset++;
    const position = this.offset;
    if (position >= q.length) return { kind: 'end', position, text: '' };
    const c = q.charAt(position);
    if (c === '(' || c === ')' || c === ',') {
      this.offset++;
      return { kind: c, position, text: c };
    }
    if (c === "'" || c === '"') return this.scanString(c);
    if (c === '`') return this.scanQuotedName();
    const number = this.match(NUMBER);
    if (number !== undefined) {
      const tail = this.match(NUMBER_TAIL);
      const text = q.slice(position, this.offset);
      const value = Number(number);
      if (tail !== undefined || !Number.isFinite(value))
        throw this.error(position, text, `invalid number '${text}' at position ${position}`);
      return { kind: 'number', position, text, value, integer: /^-?\d+$/.test(number) };
    }
    const word = this.match(WORD);
    if (word !== undefined) {
      const upper = word.toUpperCase();
      return KEYWORD_SET.has(upper)
        ? { kind: 'keyword', keyword: upper as Keyword, position, text: word }
        : { kind: 'identifier', name: word, position, text: word };
    }
    const run = this.match(OPERATOR_RUN);
    if (run !== undefined) {
      const operator = OPERATORS[run];
      if (operator !== undefined) return { kind: 'operator', operator, position, text: run };
      const hint = OPERATOR_HINTS[run] ?? 'operators are =, !=, <>, <, <=, >, >=';
      throw this.error(
        position,
        run,
        `unknown operator '${run}' at position ${position} (${hint})`,
      );
    }
    const char = String.fromCodePoint(q.codePointAt(position) ?? 0);
    const hint = c === '-' ? " (a negative number is written '-5')" : '';
    throw this.error(
      position,
      char,
      `unexpected character '${char}' at position ${position}${hint}`,
    );
  }

  private match(pattern: RegExp): string | undefined {
    pattern.lastIndex = this.offset;
    const match = pattern.exec(this.query);
    if (match === null) return undefined;
    this.offset = pattern.lastIndex;
    return match[0];
  }

  private scanString(quote: string): Token {
    const q = this.query;
    const position = this.offset;
    let value = '';
    let i = position + 1;
    for (;;) {
      if (i >= q.length) {
        throw this.error(
          position,
          q.slice(position),
          `unterminated string at position ${position} (no closing ${quote})`,
        );
      }
      const c = q.charAt(i);
      if (c === quote) {
        if (q.charAt(i + 1) === quote) {
          value += quote;
          i += 2;
          continue;
        }
        this.offset = i + 1;
        return { kind: 'string', value, position, text: q.slice(position, i + 1) };
      }
      if (c === '\\' && i + 1 < q.length) {
        const escaped = ESCAPES[q.charAt(i + 1)];
        if (escaped === undefined) {
          const sequence = q.slice(i, i + 2);
          throw this.error(
            i,
            sequence,
            `unknown escape sequence '${sequence}' in a string at position ${i} (escapes are \\', \\", \\\\, \\n, \\t, \\r; or double the quote)`,
          );
        }
        value += escaped;
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
  }

  private scanQuotedName(): Token {
    const q = this.query;
    const position = this.offset;
    let name = '';
    let i = position + 1;
    for (;;) {
      if (i >= q.length) {
        throw this.error(
          position,
          q.slice(position),
          `unterminated attribute name at position ${position} (no closing \`)`,
        );
      }
      const c = q.charAt(i);
      if (c === '`') {
        if (q.charAt(i + 1) === '`') {
          name += '`';
          i += 2;
          continue;
        }
        const text = q.slice(position, i + 1);
        if (name === '')
          throw this.error(position, text, `empty attribute name at position ${position}`);
        this.offset = i + 1;
        return { kind: 'identifier', name, position, text };
      }
      name += c;
      i++;
    }
  }
}

/** How a token is shown in messages. */
function show(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'the end of the query';
    case 'string':
    case 'number':
      return token.text;
    default:
      return `'${token.text}'`;
  }
}

function showLiteral(literal: Literal): string {
  return literal.kind === 'boolean' ? literal.text.toLowerCase() : literal.text;
}

// ---------------------------------------------------------------------------------------------
// Parser

/**
 * Parses a visibility query into its syntax tree, checking only the syntax (attribute names and
 * value types are checked by {@link resolveListQuery}).
 *
 * @throws {ListQueryError} for a syntax error, pointing at the offending token.
 * @example
 * ```ts
 * const { expression } = parseListQuery("WorkflowType = 'order' AND NOT CloseTime IS NULL");
 * // { kind: 'and', operands: [
 * //   { kind: 'comparison', attribute: { name: 'WorkflowType', position: 0 }, operator: '=', ... },
 * //   { kind: 'not', operand: { kind: 'isNull', negated: false, ... }, position: 27 } ] }
 * ```
 */
export function parseListQuery(query: string): ListQuery {
  return { query, expression: new Parser(query).parse() };
}

class Parser {
  private readonly lexer: Lexer;
  /** The last token consumed, for "after '...'" in messages. */
  private previous: Token | undefined;

  constructor(private readonly query: string) {
    this.lexer = new Lexer(query);
  }

  /** The source from `start` to the end of the last token consumed. */
  private sourceFrom(start: number): string {
    const end = this.previous ? this.previous.position + this.previous.text.length : start;
    return this.query.slice(start, end);
  }

  parse(): Expression | undefined {
    if (this.lexer.peek().kind === 'end') return undefined;
    const expression = this.parseOr();
    const token = this.lexer.peek();
    if (token.kind === ')')
      throw this.error(token, `unexpected ')' at position ${token.position} (no matching '(')`);
    if (token.kind !== 'end') {
      const hint = token.kind === 'identifier' ? '; is an AND or OR missing?' : '';
      throw this.expected('AND, OR or the end of the query', token, hint);
    }
    return expression;
  }

  private next(): Token {
    this.previous = this.lexer.next();
    return this.previous;
  }

  private isKeyword(token: Token, keyword: Keyword): boolean {
    return token.kind === 'keyword' && token.keyword === keyword;
  }

  private error(token: Token, detail: string): ListQueryError {
    return this.lexer.error(token.position, token.text, detail);
  }

  /** "expected X after 'P' at position N (found T)": `token` is the offending (unconsumed) token. */
  private expected(what: string, token: Token, hint = ''): ListQueryError {
    const after = this.previous ? ` after ${show(this.previous)}` : '';
    return this.error(
      token,
      `expected ${what}${after} at position ${token.position} (found ${show(token)})${hint}`,
    );
  }

  private parseOr(): Expression {
    const operands = [this.parseAnd()];
    while (this.isKeyword(this.lexer.peek(), 'OR')) {
      this.next();
      operands.push(this.parseAnd());
    }
    return operands.length === 1 ? operands[0]! : { kind: 'or', operands: flatten('or', operands) };
  }

  private parseAnd(): Expression {
    const operands = [this.parseNot()];
    while (this.isKeyword(this.lexer.peek(), 'AND')) {
      this.next();
      operands.push(this.parseNot());
    }
    return operands.length === 1
      ? operands[0]!
      : { kind: 'and', operands: flatten('and', operands) };
  }

  private parseNot(): Expression {
    const token = this.lexer.peek();
    if (this.isKeyword(token, 'NOT')) {
      this.next();
      return { kind: 'not', operand: this.parseNot(), position: token.position };
    }
    if (token.kind === '(') {
      this.next();
      const inner = this.parseOr();
      const close = this.lexer.peek();
      if (close.kind !== ')') {
        const hint = close.kind === 'identifier' ? '; is an AND or OR missing?' : '';
        throw this.error(
          close,
          `expected ')' at position ${close.position} to close the '(' at position ${token.position} (found ${show(close)})${hint}`,
        );
      }
      this.next();
      return inner;
    }
    if (token.kind === 'identifier') return this.parseCondition();
    const hint =
      token.kind === 'keyword' && !['AND', 'OR'].includes(token.keyword)
        ? `; to use ${token.text} as an attribute name, quote it: \`${token.text}\``
        : token.kind === 'string' || token.kind === 'number'
          ? '; a condition starts with the attribute name'
          : '';
    throw this.expected("a condition (an attribute name, NOT or '(')", token, hint);
  }

  private parseCondition(): Condition {
    const name = this.next();
    if (name.kind !== 'identifier') throw new Error('unreachable: parseCondition on a non-name');
    const attribute = { name: name.name, position: name.position, text: name.text };
    const op = this.lexer.peek();
    const operatorPosition = op.position;
    if (op.kind === 'operator') {
      this.next();
      return {
        kind: 'comparison',
        attribute,
        operatorPosition,
        operatorText: op.text,
        operator: op.operator,
        value: this.parseValue(),
      };
    }
    if (op.kind === 'keyword') {
      let negated = false;
      let keyword = op;
      if (op.keyword === 'NOT') {
        this.next();
        const after = this.lexer.peek();
        if (
          after.kind !== 'keyword' ||
          (after.keyword !== 'IN' && after.keyword !== 'BETWEEN' && after.keyword !== 'STARTS_WITH')
        )
          throw this.expected('IN, BETWEEN or STARTS_WITH', after);
        negated = true;
        keyword = after;
      }
      switch (keyword.keyword) {
        case 'IN': {
          this.next();
          const operatorText = this.sourceFrom(operatorPosition);
          const values = this.parseList();
          return { kind: 'in', attribute, operatorPosition, operatorText, negated, values };
        }
        case 'BETWEEN': {
          this.next();
          const operatorText = this.sourceFrom(operatorPosition);
          const low = this.parseValue();
          const and = this.lexer.peek();
          if (!this.isKeyword(and, 'AND')) throw this.expected('AND', and);
          this.next();
          const high = this.parseValue();
          return { kind: 'between', attribute, operatorPosition, operatorText, negated, low, high };
        }
        case 'STARTS_WITH': {
          this.next();
          const operatorText = this.sourceFrom(operatorPosition);
          const prefix = this.parseValue();
          return { kind: 'startsWith', attribute, operatorPosition, operatorText, negated, prefix };
        }
        case 'IS': {
          this.next();
          let isNegated = false;
          if (this.isKeyword(this.lexer.peek(), 'NOT')) {
            this.next();
            isNegated = true;
          }
          const nullToken = this.lexer.peek();
          if (!this.isKeyword(nullToken, 'NULL'))
            throw this.expected(isNegated ? 'NULL' : 'NULL or NOT NULL', nullToken);
          this.next();
          const operatorText = this.sourceFrom(operatorPosition);
          return { kind: 'isNull', attribute, operatorPosition, operatorText, negated: isNegated };
        }
        default:
          break;
      }
    }
    throw this.expected(
      'an operator (=, !=, <, <=, >, >=, IN, NOT IN, BETWEEN, NOT BETWEEN, STARTS_WITH, IS NULL, IS NOT NULL)',
      op,
    );
  }

  private parseList(): Literal[] {
    const open = this.lexer.peek();
    if (open.kind !== '(') throw this.expected("'('", open);
    this.next();
    const values = [this.parseValue()];
    for (;;) {
      const token = this.lexer.peek();
      if (token.kind === ')') {
        this.next();
        return values;
      }
      if (token.kind !== ',') throw this.expected("',' or ')'", token);
      this.next();
      values.push(this.parseValue());
    }
  }

  private parseValue(): Literal {
    const token = this.lexer.peek();
    switch (token.kind) {
      case 'string':
        this.next();
        return { kind: 'string', value: token.value, position: token.position, text: token.text };
      case 'number':
        this.next();
        return {
          kind: 'number',
          value: token.value,
          integer: token.integer,
          position: token.position,
          text: token.text,
        };
      case 'keyword':
        if (token.keyword === 'TRUE' || token.keyword === 'FALSE') {
          this.next();
          return {
            kind: 'boolean',
            value: token.keyword === 'TRUE',
            position: token.position,
            text: token.text,
          };
        }
        break;
      default:
        break;
    }
    const hint =
      token.kind === 'identifier'
        ? `; strings are quoted: '${token.name.replaceAll("'", "''")}'`
        : this.isKeyword(token, 'NULL')
          ? '; test for a missing attribute with IS NULL or IS NOT NULL'
          : '';
    throw this.expected('a value', token, hint);
  }
}

function flatten(kind: 'and' | 'or', operands: Expression[]): Expression[] {
  return operands.flatMap((operand) => (operand.kind === kind ? operand.operands : [operand]));
}

// ---------------------------------------------------------------------------------------------
// Type checking

/** A value in its comparable form: Datetime as epoch milliseconds, Bool as a boolean. */
export type Scalar = string | number | boolean;

/** The attribute a predicate is on, with everything a compiler needs to address it. */
export type ResolvedAttribute =
  | {
      source: 'builtin';
      name: string;
      type: SearchAttributeType;
      /** Column of the executions table. */
      column: string;
      nullable: boolean;
    }
  | { source: 'custom'; name: string; type: SearchAttributeType };

/**
 * What a predicate tests, before negation. `equals` depends on the type: exact equality, or for
 * Text "contains all the words of the value" (see {@link textWords}), or for KeywordList "has an
 * element equal to"; `in` on a KeywordList is "has an element in". `exists` is `IS NOT NULL`.
 */
export type PredicateTest =
  | { op: 'equals'; value: Scalar }
  | { op: 'compare'; comparator: '<' | '<=' | '>' | '>='; value: Scalar }
  | { op: 'in'; values: Scalar[] }
  | { op: 'between'; low: Scalar; high: Scalar }
  | { op: 'startsWith'; prefix: string }
  | { op: 'exists' };

/**
 * A type-checked query, independent of any SQL dialect. Every predicate is two-valued: false when
 * the run lacks the attribute, and `negated` (and `not`) are its exact negation, so `!=` and
 * `IS NULL` come out as negated `equals` and `exists`.
 */
export type Filter =
  | { kind: 'and'; operands: Filter[] }
  | { kind: 'or'; operands: Filter[] }
  | { kind: 'not'; operand: Filter }
  | { kind: 'predicate'; attribute: ResolvedAttribute; negated: boolean; test: PredicateTest };

/** The result of {@link resolveListQuery}: `filter` is undefined when everything matches. */
export interface ResolvedListQuery {
  query: string;
  filter: Filter | undefined;
}

const ORDERED: readonly ListQueryOperator[] = [
  '=',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  'IN',
  'NOT IN',
  'BETWEEN',
  'NOT BETWEEN',
  'IS NULL',
  'IS NOT NULL',
];

/** The operators each type supports. */
export const SUPPORTED_OPERATORS: Readonly<
  Record<SearchAttributeType, readonly ListQueryOperator[]>
> = {
  Keyword: [...ORDERED, 'STARTS_WITH', 'NOT STARTS_WITH'],
  Text: ['=', '!=', 'IS NULL', 'IS NOT NULL'],
  Int: ORDERED,
  Double: ORDERED,
  Datetime: ORDERED,
  Bool: ['=', '!=', 'IS NULL', 'IS NOT NULL'],
  KeywordList: ['=', '!=', 'IN', 'NOT IN', 'IS NULL', 'IS NOT NULL'],
};

/** Operators of an attribute with a closed set of values (ExecutionStatus). */
const ENUM_OPERATORS: readonly ListQueryOperator[] = ['=', '!=', 'IN', 'NOT IN'];

const EXPECTED_VALUE: Readonly<Record<SearchAttributeType, string>> = {
  Keyword: 'a string',
  Text: 'a string',
  KeywordList: 'a string',
  Int: 'an integer',
  Double: 'a number',
  Bool: 'true or false',
  Datetime: "an RFC 3339 date-time string such as '2026-11-25T10:00:00Z'",
};

const TEXT_WORD = /[0-9A-Za-z_\u{80}-\u{10FFFF}]+/gu;

/**
 * The words of a Text value as matched by Text `=`: runs of ASCII letters, digits, `_` and
 * non-ASCII characters, with ASCII letters lower-cased (matching is ASCII case-insensitive).
 *
 * @example
 * ```ts
 * textWords('Quick, brown-Fox!'); // ['quick', 'brown', 'fox']
 * ```
 */
export function textWords(text: string): string[] {
  return (text.match(TEXT_WORD) ?? []).map((word) =>
    word.replace(/[A-Z]+/g, (upper) => upper.toLowerCase()),
  );
}

/**
 * Type-checks a query against the built-in attributes and the registry of custom ones, and
 * converts its values to their comparable form (Datetime strings to epoch milliseconds).
 *
 * @param query The query text, or a query already parsed by {@link parseListQuery}.
 * @param searchAttributes The custom search attributes and their types. Built-in attributes take
 *   precedence over an entry of the same name.
 * @throws {ListQueryError} for a syntax error, an unknown attribute, an operator the attribute's
 *   type does not support, or a value of the wrong type (or an unknown ExecutionStatus, an invalid
 *   date).
 * @example
 * ```ts
 * const types = new Map([['CustomerId', SearchAttributeType.KEYWORD]]);
 * resolveListQuery("CustomerId != 'c-1'", types).filter;
 * // { kind: 'predicate', negated: true, test: { op: 'equals', value: 'c-1' },
 * //   attribute: { source: 'custom', name: 'CustomerId', type: 'Keyword' } }
 * ```
 */
export function resolveListQuery(
  query: string | ListQuery,
  searchAttributes: SearchAttributeTypes = new Map(),
): ResolvedListQuery {
  const parsed = typeof query === 'string' ? parseListQuery(query) : query;
  const resolver = new Resolver(parsed.query, searchAttributes);
  return {
    query: parsed.query,
    filter: parsed.expression && resolver.expression(parsed.expression),
  };
}

class Resolver {
  constructor(
    private readonly query: string,
    private readonly searchAttributes: SearchAttributeTypes,
  ) {}

  expression(expression: Expression): Filter {
    switch (expression.kind) {
      case 'and':
      case 'or':
        return {
          kind: expression.kind,
          operands: expression.operands.map((operand) => this.expression(operand)),
        };
      case 'not':
        return { kind: 'not', operand: this.expression(expression.operand) };
      default:
        return this.condition(expression);
    }
  }

  private error(position: number, token: string, detail: string): ListQueryError {
    return new ListQueryError(this.query, position, token, detail);
  }

  private condition(condition: Condition): Filter {
    const attribute = this.attribute(condition.attribute);
    const operator = conditionOperator(condition);
    const values = attribute.source === 'builtin' ? builtInValues(attribute.name) : undefined;
    const supported = values ? ENUM_OPERATORS : SUPPORTED_OPERATORS[attribute.type];
    if (!supported.includes(operator)) {
      const kind = values ? `${attribute.name}` : `${attribute.type} attribute ${attribute.name}`;
      throw this.error(
        condition.operatorPosition,
        condition.operatorText,
        `operator '${operator}' is not supported for ${kind} at position ${condition.operatorPosition} (supported: ${supported.join(', ')})`,
      );
    }
    const value = (literal: Literal) => this.value(attribute, literal, operator);
    const predicate = (test: PredicateTest, negated: boolean): Filter => ({
      kind: 'predicate',
      attribute,
      negated,
      test,
    });
    switch (condition.kind) {
      case 'comparison': {
        const v = value(condition.value);
        switch (condition.operator) {
          case '=':
          case '!=':
            return predicate({ op: 'equals', value: v }, condition.operator === '!=');
          default:
            return predicate({ op: 'compare', comparator: condition.operator, value: v }, false);
        }
      }
      case 'in':
        return predicate({ op: 'in', values: condition.values.map(value) }, condition.negated);
      case 'between':
        return predicate(
          { op: 'between', low: value(condition.low), high: value(condition.high) },
          condition.negated,
        );
      case 'startsWith':
        return predicate(
          { op: 'startsWith', prefix: String(value(condition.prefix)) },
          condition.negated,
        );
      case 'isNull':
        return predicate({ op: 'exists' }, !condition.negated);
    }
  }

  private attribute({ name, position, text }: AttributeName): ResolvedAttribute {
    const builtIn = BUILT_IN_SEARCH_ATTRIBUTES.get(name);
    if (builtIn) {
      const { type, column, nullable } = builtIn;
      return { source: 'builtin', name, type, column, nullable };
    }
    const type = this.searchAttributes.get(name);
    if (type !== undefined) return { source: 'custom', name, type };
    const builtInNames = [...BUILT_IN_SEARCH_ATTRIBUTES.keys()];
    const customNames = [...this.searchAttributes.keys()].filter(
      (n) => !BUILT_IN_SEARCH_ATTRIBUTES.has(n),
    );
    const suggestion = [...builtInNames, ...customNames].find(
      (known) => known.toLowerCase() === name.toLowerCase(),
    );
    const custom =
      customNames.length > 0 ? `; custom: ${customNames.sort().join(', ')}` : '; no custom ones';
    throw this.error(
      position,
      text,
      `unknown search attribute '${name}' at position ${position}${suggestion ? ` (did you mean '${suggestion}'?)` : ''}; known attributes: built-in: ${builtInNames.join(', ')}${custom}`,
    );
  }

  private value(attribute: ResolvedAttribute, literal: Literal, operator: string): Scalar {
    const { type, name } = attribute;
    const mismatch = () =>
      this.error(
        literal.position,
        literal.text,
        `expected ${EXPECTED_VALUE[type]} for ${type} attribute ${name} at position ${literal.position} (found ${showLiteral(literal)})`,
      );
    switch (type) {
      case SearchAttributeType.KEYWORD:
      case SearchAttributeType.KEYWORD_LIST:
      case SearchAttributeType.TEXT: {
        if (literal.kind !== 'string') throw mismatch();
        const allowed = attribute.source === 'builtin' ? builtInValues(name) : undefined;
        if (allowed && !allowed.includes(literal.value)) {
          const suggestion = allowed.find((v) => v.toLowerCase() === literal.value.toLowerCase());
          throw this.error(
            literal.position,
            literal.text,
            `unknown ${name} value at position ${literal.position} (found ${literal.text}${suggestion ? `; did you mean '${suggestion}'?` : ''}); valid values: ${allowed.join(', ')}`,
          );
        }
        if (type === SearchAttributeType.TEXT && textWords(literal.value).length === 0) {
          throw this.error(
            literal.position,
            literal.text,
            `expected at least one word to match in Text attribute ${name} with ${operator} at position ${literal.position} (found ${literal.text})`,
          );
        }
        return literal.value;
      }
      case SearchAttributeType.INT:
        if (literal.kind !== 'number' || !literal.integer) throw mismatch();
        if (!Number.isSafeInteger(literal.value)) {
          throw this.error(
            literal.position,
            literal.text,
            `integer out of range for Int attribute ${name} at position ${literal.position} (found ${literal.text}; the limit is ±${Number.MAX_SAFE_INTEGER})`,
          );
        }
        return literal.value;
      case SearchAttributeType.DOUBLE:
        if (literal.kind !== 'number') throw mismatch();
        return literal.value;
      case SearchAttributeType.BOOL:
        if (literal.kind !== 'boolean') throw mismatch();
        return literal.value;
      case SearchAttributeType.DATETIME: {
        if (literal.kind !== 'string') throw mismatch();
        const ms = parseDatetime(literal.value);
        if (ms === undefined) {
          throw this.error(
            literal.position,
            literal.text,
            `invalid date-time for Datetime attribute ${name} at position ${literal.position} (found ${literal.text}); expected RFC 3339 such as '2026-11-25T10:00:00Z', '2026-11-25T11:00:00.5+01:00' or '2026-11-25'`,
          );
        }
        return ms;
      }
    }
  }
}

function builtInValues(name: string): readonly string[] | undefined {
  return BUILT_IN_SEARCH_ATTRIBUTES.get(name)?.values;
}

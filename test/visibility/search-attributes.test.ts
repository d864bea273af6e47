import { BUILT_IN_SEARCH_ATTRIBUTE_NAMES } from '../../src/state/search-attributes.ts';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { textWords } from '../../src/visibility/list-query.ts';
import {
  BUILT_IN_SEARCH_ATTRIBUTES,
  EXECUTION_STATUSES,
  SearchAttributeType,
  encodeSearchAttributeValue,
  isSearchAttributeType,
  parseDatetime,
} from '../../src/visibility/search-attributes.ts';

describe('parseDatetime', () => {
  test('accepts RFC 3339 date-times and bare dates', () => {
    const cases: [string, number][] = [
      ['2026-11-25T10:00:00Z', Date.UTC(2026, 10, 25, 10)],
      ['2026-11-25t10:00:00z', Date.UTC(2026, 10, 25, 10)],
      ['2026-11-25 10:00:00Z', Date.UTC(2026, 10, 25, 10)],
      ['2026-11-25T10:00Z', Date.UTC(2026, 10, 25, 10)],
      ['2026-11-25T11:30:00+01:30', Date.UTC(2026, 10, 25, 10)],
      ['2026-11-25T05:00:00-05:00', Date.UTC(2026, 10, 25, 10)],
      ['2026-11-25T10:00:00.5Z', Date.UTC(2026, 10, 25, 10, 0, 0, 500)],
      ['2026-11-25T10:00:00.123456789Z', Date.UTC(2026, 10, 25, 10, 0, 0, 123)],
      ['2026-11-25', Date.UTC(2026, 10, 25)],
      ['2024-02-29', Date.UTC(2024, 1, 29)],
      ['2000-02-29T23:59:59.999Z', Date.UTC(2000, 1, 29, 23, 59, 59, 999)],
      ['1970-01-01T00:00:00Z', 0],
      ['0050-06-01T00:00:00Z', new Date('0050-06-01T00:00:00Z').getTime()],
    ];
    for (const [text, ms] of cases) assert.equal(parseDatetime(text), ms, text);
  });

  test('rejects anything else, including what Date.parse would guess at', () => {
    for (const text of [
      '',
      'now',
      '2026',
      '2026-11',
      'Nov 25 2026',
      '2026/11/25',
      '2026-11-25T10:00:00',
      '2026-11-25T10:00:00+0100',
      '2026-11-25T10:00:00 Z',
      '2026-13-01',
      '2026-00-10',
      '2026-11-31',
      '2026-02-29',
      '1900-02-29',
      '2026-11-25T24:00:00Z',
      '2026-11-25T10:60:00Z',
      '2026-11-25T10:00:60Z',
      '2026-11-25T10:00:00+24:00',
      ' 2026-11-25',
      '2026-11-25T10:00:00Zjunk',
      '1795600800000',
    ]) {
      assert.equal(parseDatetime(text), undefined, text);
    }
  });
});

describe('encodeSearchAttributeValue', () => {
  test('gives the stored form of each type', () => {
    assert.deepEqual(encodeSearchAttributeValue('K', SearchAttributeType.KEYWORD, '007'), ['007']);
    assert.deepEqual(encodeSearchAttributeValue('T', SearchAttributeType.TEXT, 'a b'), ['a b']);
    assert.deepEqual(encodeSearchAttributeValue('I', SearchAttributeType.INT, -3), [-3]);
    assert.deepEqual(encodeSearchAttributeValue('D', SearchAttributeType.DOUBLE, 1.5), [1.5]);
    assert.deepEqual(encodeSearchAttributeValue('B', SearchAttributeType.BOOL, true), [1]);
    assert.deepEqual(encodeSearchAttributeValue('B', SearchAttributeType.BOOL, false), [0]);
    const ms = Date.UTC(2026, 10, 25, 10);
    assert.deepEqual(encodeSearchAttributeValue('W', SearchAttributeType.DATETIME, new Date(ms)), [
      ms,
    ]);
    assert.deepEqual(
      encodeSearchAttributeValue('W', SearchAttributeType.DATETIME, '2026-11-25T11:00:00+01:00'),
      [ms],
    );
    assert.deepEqual(encodeSearchAttributeValue('W', SearchAttributeType.DATETIME, ms), [ms]);
    assert.deepEqual(
      encodeSearchAttributeValue('L', SearchAttributeType.KEYWORD_LIST, ['a', 'b', 'a']),
      ['a', 'b'],
    );
    assert.deepEqual(encodeSearchAttributeValue('L', SearchAttributeType.KEYWORD_LIST, []), []);
  });

  test('rejects a value that does not fit the type, naming the attribute', () => {
    const rejects = (type: SearchAttributeType, value: unknown, message: RegExp) =>
      assert.throws(
        () => encodeSearchAttributeValue('Attr', type, value),
        (error) => {
          assert.ok(error instanceof TypeError);
          assert.match(error.message, message);
          return true;
        },
      );
    rejects(
      'Keyword',
      7,
      /^Invalid value for Keyword search attribute Attr: expected a string, got 7$/,
    );
    rejects('Int', 1.5, /expected a safe integer, got 1.5$/);
    rejects('Int', 2 ** 60, /expected a safe integer/);
    rejects('Double', Number.NaN, /expected a finite number, got NaN$/);
    rejects('Bool', 'true', /expected a boolean, got "true"$/);
    rejects(
      'Datetime',
      'soon',
      /expected a Date, an RFC 3339 string or epoch milliseconds, got "soon"$/,
    );
    rejects('Datetime', new Date(Number.NaN), /got Date\(NaN\)$/);
    rejects('KeywordList', ['a', 1], /expected an array of strings, got an array$/);
    rejects('KeywordList', 'a', /expected an array of strings, got "a"$/);
    rejects('Text', null, /got null$/);
    rejects('Keyword', {}, /got an object$/);
  });
});

describe('search attribute types', () => {
  test('SearchAttributeType names the seven types; isSearchAttributeType checks a name', () => {
    assert.deepEqual(Object.values(SearchAttributeType), [
      'Keyword',
      'Text',
      'Int',
      'Double',
      'Bool',
      'Datetime',
      'KeywordList',
    ]);
    assert.equal(isSearchAttributeType('Keyword'), true);
    assert.equal(isSearchAttributeType('keyword'), false);
    assert.equal(isSearchAttributeType('toString'), false);
    assert.equal(isSearchAttributeType(1), false);
  });

  test('the built-in attributes are columns of the real executions table', () => {
    const migration = readFileSync(
      new URL('../../src/store/sqlite/migrations/0001_initial.sql', import.meta.url),
      'utf8',
    );
    const db = new Database(':memory:');
    try {
      db.exec(migration);
      const columns = new Map(
        (db.pragma('table_info(executions)') as { name: string; notnull: number }[]).map((c) => [
          c.name,
          c.notnull === 0,
        ]),
      );
      for (const attribute of BUILT_IN_SEARCH_ATTRIBUTES.values()) {
        assert.equal(columns.get(attribute.column), attribute.nullable, attribute.name);
      }
    } finally {
      db.close();
    }
    assert.deepEqual(BUILT_IN_SEARCH_ATTRIBUTES.get('ExecutionStatus')?.values, EXECUTION_STATUSES);
  });

  test('textWords splits on anything but letters, digits and _, lower-casing ASCII', () => {
    assert.deepEqual(textWords('Quick, brown-Fox!'), ['quick', 'brown', 'fox']);
    assert.deepEqual(textWords('  snake_case v2.0 '), ['snake_case', 'v2', '0']);
    assert.deepEqual(textWords('Crème BRÛLÉE'), ['crème', 'brÛlÉe']);
    assert.deepEqual(textWords(' -- '), []);
  });
});

test('the names user search attributes may not take are exactly the built-in attributes', () => {
  assert.deepEqual(
    [...BUILT_IN_SEARCH_ATTRIBUTES.keys()].sort(),
    [...BUILT_IN_SEARCH_ATTRIBUTE_NAMES].sort(),
  );
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  MAX_PAYLOAD_BYTES,
  PayloadError,
  assertPayload,
  roundTrip,
} from '../../src/common/payload.ts';

const refused = (pattern: RegExp) => (error: unknown) =>
  error instanceof PayloadError && error instanceof TypeError && pattern.test(error.message);

describe('assertPayload', () => {
  test('accepts plain data, nested, with Dates, nulls and shared (non-cyclic) references', () => {
    const shared = { id: 1 };
    const value = {
      name: 'order',
      total: 12.5,
      paid: false,
      when: new Date(0),
      tags: ['a', 'b', null],
      nested: { deeper: { list: [{ x: 1 }, { y: [2, 3] }] } },
      missing: undefined,
      a: shared,
      b: shared,
    };
    assert.doesNotThrow(() => assertPayload(value, 'the input'));
    assert.doesNotThrow(() => assertPayload(undefined, 'the result'));
    assert.doesNotThrow(() => assertPayload([], 'args'));
    assert.doesNotThrow(() => assertPayload(-0, 'n'));
  });

  test('rejects a function with its path', () => {
    assert.throws(
      () => assertPayload({ order: { callback: () => 1 } }, 'the input of workflow x'),
      refused(
        /^Cannot serialise the input of workflow x: 'order\.callback' is a function; only data can be stored\.$/,
      ),
    );
    assert.throws(
      () => assertPayload(() => 1, 'the result'),
      refused(/the result: it is a function/),
    );
  });

  test('rejects a BigInt with its path and a hint', () => {
    assert.throws(
      () => assertPayload([1, { amount: 10n }], 'the arguments'),
      refused(/'\[1\]\.amount' is a BigInt; pass it as a string/),
    );
  });

  test('rejects Map, Set, WeakMap and WeakSet', () => {
    assert.throws(
      () => assertPayload({ m: new Map([[1, 2]]) }, 'x'),
      refused(/'m' is a Map, which JSON would turn into \{\}; pass an array or a plain object/),
    );
    assert.throws(
      () => assertPayload({ list: [new Set([1])] }, 'x'),
      refused(/'list\[0\]' is a Set/),
    );
    assert.throws(() => assertPayload(new WeakMap(), 'x'), refused(/it is a WeakMap/));
    assert.throws(() => assertPayload([new WeakSet()], 'x'), refused(/'\[0\]' is a WeakSet/));
  });

  test('rejects NaN and infinities', () => {
    assert.throws(
      () => assertPayload({ price: Number.NaN }, 'x'),
      refused(/'price' is the number NaN, which JSON cannot hold/),
    );
    assert.throws(() => assertPayload([Infinity], 'x'), refused(/'\[0\]' is the number Infinity/));
    assert.throws(() => assertPayload(-Infinity, 'x'), refused(/it is the number -Infinity/));
  });

  test('rejects half a surrogate pair, in a value or a key, and accepts whole pairs', () => {
    assert.throws(
      () => assertPayload({ note: ['ok', 'cut \ud83d'] }, 'x'),
      refused(/'note\[1\]' is a string with half of a UTF-16 surrogate pair/),
    );
    assert.throws(() => assertPayload('\ude00 alone', 'x'), refused(/it is a string with half/));
    assert.throws(
      () => assertPayload({ ['k\ud800']: 1 }, 'x'),
      refused(/'k\ud800' is a key with half of a UTF-16 surrogate pair/),
    );
    assertPayload({ emoji: '\ud83d\ude00 😀', ['😀']: 'ü' }, 'x');
  });

  test('rejects symbols', () => {
    assert.throws(() => assertPayload({ s: Symbol('x') }, 'x'), refused(/'s' is a symbol/));
  });

  test('rejects cycles, naming where the cycle closes', () => {
    const order: Record<string, unknown> = { id: 1, lines: [] };
    (order.lines as unknown[]).push({ parent: order });
    assert.throws(
      () => assertPayload(order, 'the input'),
      refused(/'lines\[0\]\.parent' is a circular reference/),
    );
    const self: unknown[] = [];
    self.push(self);
    assert.throws(() => assertPayload(self, 'x'), refused(/'\[0\]' is a circular reference/));
  });

  test('rejects payloads above the size limit, and accepts one just under it', () => {
    assert.throws(
      () => assertPayload('x'.repeat(MAX_PAYLOAD_BYTES), 'the result of activity big'),
      refused(
        /^the result of activity big is too large: about \d+ bytes, above the limit of 2097152/,
      ),
    );
    assert.doesNotThrow(() => assertPayload('x'.repeat(MAX_PAYLOAD_BYTES - 2), 'x'));
  });
});

describe('roundTrip', () => {
  test('gives a deep JSON copy, as a replay from the database would', () => {
    const value = { when: new Date(0), list: [1, undefined], nested: { a: 1 } };
    const copy = roundTrip(value);
    assert.deepEqual(copy, { when: '1970-01-01T00:00:00.000Z', list: [1, null], nested: { a: 1 } });
    assert.notEqual(copy.nested, value.nested);
    assert.equal(roundTrip(undefined), undefined);
  });
});

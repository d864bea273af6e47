/** Which PostgreSQL errors the store retries, and which mean the connection is gone. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { breaksConnection, isTransient } from '../../src/store/postgres/errors.ts';

const withCode = (code: string, message = 'x'): Error =>
  Object.assign(new Error(message), { code });

test('a session the server ended for idling (in a transaction or not) is retried on a new connection', () => {
  for (const code of ['25P03', '57P05']) {
    assert.equal(isTransient(withCode(code)), true, code);
    assert.equal(breaksConnection(withCode(code)), true, code);
  }
});

test('lost connections, restarts, serialization failures and lock timeouts are retried', () => {
  for (const code of ['40001', '40P01', '55P03', '57P01', '08006', 'ECONNRESET'])
    assert.equal(isTransient(withCode(code)), true, code);
  assert.equal(isTransient(new Error('Connection terminated unexpectedly')), true);
});

test('errors in the request itself are not retried', () => {
  for (const code of ['23505', '22P02', '42P01', '54000'])
    assert.equal(isTransient(withCode(code)), false, code);
  assert.equal(isTransient('not an error'), false);
  assert.equal(breaksConnection(withCode('23505')), false);
});

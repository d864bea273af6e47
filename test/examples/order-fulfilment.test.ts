/** The README's main job: the order-fulfilment example, run as a user runs it, interrupted and resumed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tempDbPath } from '../helpers/env.ts';
import { spawnNode } from '../helpers/processes.ts';

const runExample = (dbPath: string) =>
  spawnNode(import.meta.url, '../../examples/order-fulfilment/main.ts', [], {
    KEEL_DB: dbPath,
    ORDER_STEP_MS: '150',
  });

test('the order example reserves, charges (retried twice) and ships, printing each step', async () => {
  const run = runExample(tempDbPath());
  const exit = await run.exited;
  assert.equal(exit.code, 0, run.stderr());
  const out = run.stdout();
  assert.match(out, /Started order-1001/);
  assert.equal(out.match(/payment gateway timed out/g)?.length, 2);
  assert.match(out, /\(attempt 3\)/);
  assert.match(out, /Order complete: .*"trackingNumber":"TRACK-ORDER-1001"/);
});

test('Ctrl-C midway and a second run resumes the same order after its last completed step', async () => {
  const dbPath = tempDbPath();
  const first = runExample(dbPath);
  await first.waitForLine('(attempt 2)');
  first.child.kill('SIGINT');
  const exit = await first.exited;
  assert.equal(exit.code, 0, first.stderr());
  assert.match(first.stdout(), /Stopped\. Run again to resume order-1001/);
  assert.doesNotMatch(first.stdout(), /Order complete/);

  const second = runExample(dbPath);
  assert.equal((await second.exited).code, 0, second.stderr());
  const out = second.stdout();
  assert.match(out, /Resuming order-1001 where it stopped .*done: reserveStock/);
  assert.doesNotMatch(out, /reserving/, 'the completed step does not run again');
  assert.match(out, /Order complete: .*"orderId":"order-1001"/);
});

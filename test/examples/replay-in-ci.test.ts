/** The CI recipe of examples/replay-in-ci: saved histories replay against the current workflow code. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Worker } from 'keel/worker';
import * as workflows from '../../examples/order-fulfilment/workflows.ts';

const dir = new URL('../../examples/replay-in-ci/histories/', import.meta.url);

test('the saved order histories replay against the current order workflow', async () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.notEqual(files.length, 0);
  for await (const result of Worker.runReplayHistories(
    { workflows },
    files.map((f) => readFileSync(new URL(f, dir), 'utf8')),
  )) {
    assert.equal(result.error, undefined, `${result.workflowId}: ${result.error?.message}`);
  }
});

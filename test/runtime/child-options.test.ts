import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileChildOptions } from '../../src/runtime/child-options.ts';

test('a child workflow id or task queue cut in the middle of a surrogate pair throws TypeError naming it', () => {
  assert.throws(() => compileChildOptions('processBatch', 'batch-\ud83d', {}), {
    name: 'TypeError',
    message: /^The workflowId of child workflow 'processBatch' "batch-\\ud83d" holds half/,
  });
  assert.throws(() => compileChildOptions('processBatch', 'batch-1', { taskQueue: '\ude00' }), {
    name: 'TypeError',
    message: /^The taskQueue of child workflow 'processBatch' "\\ude00" holds half/,
  });
  assert.equal(compileChildOptions('processBatch', 'batch-😀', {}).workflowId, 'batch-😀');
});

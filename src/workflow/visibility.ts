import { currentActivator } from '../runtime/context.ts';
import {
  validateSearchAttributeValues,
  type SearchAttributeValues,
} from '../state/search-attributes.ts';
import { assertPayload } from '../common/payload.ts';

/**
 * Sets (or, with `null`, removes) typed search attributes of this run, for `client.workflow.list()`.
 *
 * @example
 * upsertSearchAttributes({ OrderStatus: { type: 'Keyword', value: 'shipped' } });
 */
export function upsertSearchAttributes(values: SearchAttributeValues): void {
  const activator = currentActivator('upsertSearchAttributes()');
  const problem = validateSearchAttributeValues(values);
  if (problem) throw new TypeError(`upsertSearchAttributes(): ${problem}.`);
  activator.pushCommand({
    commandType: 'UpsertWorkflowSearchAttributes',
    attributes: { searchAttributes: values },
  });
}

/**
 * Merges entries into this run's memo (null removes one).
 *
 * @example
 * upsertMemo({ note: 'customer asked for gift wrap' });
 */
export function upsertMemo(memo: Record<string, unknown>): void {
  const activator = currentActivator('upsertMemo()');
  assertPayload(memo, 'the memo');
  activator.pushCommand({
    commandType: 'ModifyWorkflowProperties',
    attributes: { upsertedMemo: memo },
  });
}

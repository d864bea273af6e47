/**
 * `keel/testing`: run workflows in tests, in-process, on a private store.
 *
 * @example
 * import { TestWorkflowEnvironment } from 'keel/testing';
 * const env = await TestWorkflowEnvironment.createLocal();
 */
export { TestWorkflowEnvironment } from './test-workflow-environment.ts';

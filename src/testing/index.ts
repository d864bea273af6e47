/**
 * `keel/testing`: run workflows in tests, in-process, on a private store, with time that skips;
 * run activities without a worker; mock activities; replay saved histories.
 *
 * @example
 * import { TestWorkflowEnvironment } from 'keel/testing';
 * const env = await TestWorkflowEnvironment.createTimeSkipping();
 */
export { TestWorkflowEnvironment } from './test-workflow-environment.ts';
export { MockActivityEnvironment, defaultActivityInfo } from './mock-activity-environment.ts';
export { mockActivities, type ActivityMocks } from './activity-mocks.ts';
export {
  replayHistory,
  replayHistories,
  type ReplayOptions,
  type ReplayResult,
} from '../replay/replay.ts';
export { parseHistory, HistoryFormatError, type WorkflowHistory } from '../replay/history-file.ts';

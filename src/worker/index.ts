/**
 * `keel/worker`: runs workflows and activities.
 *
 * @example
 * import { Worker } from 'keel/worker';
 * import * as workflows from './workflows.ts';
 * import * as activities from './activities.ts';
 *
 * const worker = await Worker.create({ connection: './keel.db', taskQueue: 'orders', workflows, activities });
 * await worker.run();
 */
export { Worker, type WorkerOptions, type WorkerState } from './worker.ts';
export type { WorkflowLogger, LogLevel } from '../runtime/workflow-info.ts';
export { consoleLogger } from '../common/logger.ts';
export { SqliteStore, type SqliteStoreOptions } from '../store/sqlite/sqlite-store.ts';
export { openStore } from '../store/open-store.ts';
export { PostgresStore, type PostgresStoreOptions } from '../store/postgres/postgres-store.ts';
export type { Store } from '../store/store.ts';
export type { ReplayOptions, ReplayResult } from '../replay/replay.ts';
export {
  parseHistory,
  HistoryFormatError,
  type WorkflowHistory,
  HISTORY_FORMAT,
  HISTORY_FORMAT_VERSION,
} from '../replay/history-file.ts';

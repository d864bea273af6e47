/** What workflow code can know about its own run. */
export interface WorkflowInfo {
  workflowId: string;
  runId: string;
  workflowType: string;
  taskQueue: string;
  /** Attempt of the run (1 until workflow retries exist). */
  attempt: number;
  firstExecutionRunId: string;
  /** When the run started (epoch ms). */
  startTime: Date;
  runStartTime: Date;
  /** Execution timeout in ms, if any. */
  executionTimeout?: number;
  runTimeout?: number;
  workflowTaskTimeout: number;
  /** Events in the history as of the current workflow task. */
  historyLength: number;
  /** True once the history is long enough that the workflow should `continueAsNew()`. */
  continueAsNewSuggested: boolean;
  /** The run this one continues (continue-as-new or a retry). */
  continuedFromExecutionRunId?: string;
  /** The parent, for a child workflow. */
  parent?: { workflowId: string; runId: string };
  /** Memo given at start (upserts from the workflow are not reflected here). */
  memo: Record<string, unknown>;
  /** Search attributes given at start. */
  searchAttributes: Record<string, unknown>;
  unsafe: {
    /** True while the code is replaying history (logging is silenced then). */
    readonly isReplaying: boolean;
    /** Real wall-clock time; not deterministic. */
    now(): number;
  };
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Where workflow and worker logs go. */
export interface WorkflowLogger {
  log(level: LogLevel, message: string, attributes?: Record<string, unknown>): void;
}

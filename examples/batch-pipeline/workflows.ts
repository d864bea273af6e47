/**
 * A batch pipeline: the parent processes `records` records, one child workflow per record, started
 * in batches of `batchSize` (at most that many run at a time). A `progress` query reports how far it
 * got. If a child fails, the parent lets the rest of that batch finish, starts no further batch, and
 * fails with the child's `ChildWorkflowFailure`, which names the failed child and carries its cause.
 */
import {
  ApplicationFailure,
  KeelFailure,
  defineQuery,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
} from 'keel/workflow';
import type { PipelineActivities } from './activities.ts';

export interface PipelineInput {
  records: number;
  batchSize: number;
}

export interface Progress {
  total: number;
  batchSize: number;
  /** The batch running now (1-based), or the last one once the pipeline ended. */
  batch: number;
  totalBatches: number;
  completed: number;
  failed: number;
  running: number;
}

export interface PipelineResult {
  processed: number;
  /** Sum of the records' checksums. */
  checksum: number;
}

export const progress = defineQuery<Progress>('progress');

const { transformRecord } = proxyActivities<PipelineActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '100ms', maximumAttempts: 3 },
});

/** One record: a child workflow of the pipeline. */
export async function processRecord(batchId: string, index: number): Promise<number> {
  return transformRecord(batchId, index);
}

export async function batchPipeline({
  records,
  batchSize,
}: PipelineInput): Promise<PipelineResult> {
  const batchId = workflowInfo().workflowId;
  const state: Progress = {
    total: records,
    batchSize,
    batch: 0,
    totalBatches: Math.ceil(records / batchSize),
    completed: 0,
    failed: 0,
    running: 0,
  };
  setHandler(progress, () => state);

  let checksum = 0;
  for (let first = 0; first < records; first += batchSize) {
    state.batch++;
    const indexes = Array.from(
      { length: Math.min(batchSize, records - first) },
      (_, i) => first + i,
    );
    const outcomes = await Promise.allSettled(
      indexes.map(async (index) => {
        const child = await startChild(processRecord, {
          workflowId: `${batchId}-record-${index}`,
          args: [batchId, index],
        });
        state.running++;
        try {
          const value = await child.result();
          state.completed++;
          return value;
        } catch (error) {
          state.failed++;
          throw error;
        } finally {
          state.running--;
        }
      }),
    );
    // The whole batch has settled: no child is left running when the pipeline stops here.
    const failure = outcomes.find((o) => o.status === 'rejected');
    if (failure) {
      const error: unknown = failure.reason;
      // A ChildWorkflowFailure; any other error (a child that could not start) fails the run too.
      if (error instanceof KeelFailure) throw error;
      throw ApplicationFailure.nonRetryable(String(error), 'ChildNotStarted');
    }
    for (const outcome of outcomes) if (outcome.status === 'fulfilled') checksum += outcome.value;
  }
  return { processed: state.completed, checksum };
}

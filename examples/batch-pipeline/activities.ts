/**
 * The work of one record. A worker registers `createActivities(source)`; the source says which
 * records are malformed, and (for a demo or a test) may hold processing of a record back.
 */
import { ApplicationFailure } from 'keel/activity';

export interface RecordSource {
  /** Indexes of records that cannot be processed. */
  malformed: ReadonlySet<number>;
  /** Awaited before a record is processed. */
  beforeProcessing?: (index: number) => Promise<void> | void;
  /** Indexes processed, in completion order. */
  processed: number[];
}

export function createActivities(source: RecordSource) {
  return {
    /** Processes record `index` of a batch; its result is the record's checksum (here, index²). */
    async transformRecord(batchId: string, index: number): Promise<number> {
      await source.beforeProcessing?.(index);
      if (source.malformed.has(index)) {
        throw ApplicationFailure.nonRetryable(
          `record ${index} of ${batchId} is malformed`,
          'MalformedRecord',
        );
      }
      source.processed.push(index);
      return index * index;
    },
  };
}

export type PipelineActivities = ReturnType<typeof createActivities>;

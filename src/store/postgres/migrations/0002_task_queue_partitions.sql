-- Task queue partitions (as Temporal's, 4 per queue): a queue's ready tasks are spread over four
-- index ranges by run id, and each claim starts at another one (taking from the next when it runs
-- short), so that the pollers of one busy queue do not all read and lock the same index pages.
-- Adding the stored column rewrites the tasks table: run it while workers are stopped if it is big.
ALTER TABLE tasks
  ADD COLUMN queue_partition smallint GENERATED ALWAYS AS ((hashtext(run_id) & 3)::smallint) STORED;
DROP INDEX tasks_ready;
CREATE INDEX tasks_ready ON tasks (kind, task_queue, queue_partition, seq) WHERE state = 'ready';

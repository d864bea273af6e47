-- Keel schema 1. Internal tables: their layout may change between versions; read them through
-- Keel's API or CLI, not directly.

CREATE TABLE keel_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

-- One row per workflow run: visibility columns, and the run's mutable state as JSON.
CREATE TABLE executions (
  run_id TEXT PRIMARY KEY,
  workflow_id TEXT NOT NULL,
  workflow_type TEXT NOT NULL,
  task_queue TEXT NOT NULL,
  status TEXT NOT NULL,
  start_time INTEGER NOT NULL,
  close_time INTEGER,
  history_length INTEGER NOT NULL,
  state TEXT NOT NULL
) STRICT;

-- At most one running run per workflow id.
CREATE UNIQUE INDEX executions_running_workflow_id ON executions (workflow_id) WHERE status = 'Running';
CREATE INDEX executions_workflow_id ON executions (workflow_id, start_time);
CREATE INDEX executions_start_time ON executions (start_time, run_id);

CREATE TABLE history_events (
  run_id TEXT NOT NULL,
  event_id INTEGER NOT NULL,
  event_time INTEGER NOT NULL,
  event_type TEXT NOT NULL,
  attributes TEXT NOT NULL,
  PRIMARY KEY (run_id, event_id)
) STRICT, WITHOUT ROWID;

-- Everything that must happen later: workflow and activity tasks to claim, timers, timeouts.
CREATE TABLE tasks (
  seq INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_queue TEXT,
  state TEXT NOT NULL,
  expires_at INTEGER,
  claim_token INTEGER NOT NULL,
  claimed_by TEXT,
  data TEXT NOT NULL
) STRICT;

CREATE INDEX tasks_ready ON tasks (kind, task_queue, seq) WHERE state = 'ready';
CREATE INDEX tasks_expiry ON tasks (expires_at) WHERE expires_at IS NOT NULL;

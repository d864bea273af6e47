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
  memo TEXT,
  search_attributes TEXT,
  state TEXT NOT NULL
) STRICT;

-- At most one running run per workflow id.
CREATE UNIQUE INDEX executions_running_workflow_id ON executions (workflow_id) WHERE status = 'Running';
CREATE INDEX executions_workflow_id ON executions (workflow_id, start_time);
CREATE INDEX executions_start_time ON executions (start_time, run_id);
CREATE INDEX executions_type_start_time ON executions (workflow_type, start_time);
CREATE INDEX executions_status_start_time ON executions (status, start_time);
CREATE INDEX executions_close_time ON executions (close_time) WHERE close_time IS NOT NULL;

-- Typed search attributes: one row per value (a keyword list has one per element), for list queries.
CREATE TABLE search_attributes (
  run_id TEXT NOT NULL,
  name TEXT NOT NULL,
  value ANY,
  PRIMARY KEY (run_id, name, value)
) STRICT, WITHOUT ROWID;

CREATE INDEX search_attributes_by_value ON search_attributes (name, value, run_id);

-- The type of each search attribute name, fixed by its first use.
CREATE TABLE search_attribute_types (
  name TEXT PRIMARY KEY,
  type TEXT NOT NULL
) STRICT;

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

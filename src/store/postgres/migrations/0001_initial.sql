-- Keel schema 1 for PostgreSQL. Internal tables: read them through Keel's API or CLI.

CREATE TABLE keel_meta (
  key text PRIMARY KEY,
  value text NOT NULL
);

-- One row per workflow run: visibility columns, and the run's mutable state as JSON text (written
-- whole on each change; text, not jsonb, because it is never queried inside).
CREATE TABLE executions (
  run_id text PRIMARY KEY,
  workflow_id text NOT NULL,
  workflow_type text NOT NULL,
  task_queue text NOT NULL,
  status text NOT NULL,
  start_time bigint NOT NULL,
  close_time bigint,
  history_length integer NOT NULL,
  memo text,
  search_attributes text,
  state text NOT NULL
);

CREATE UNIQUE INDEX executions_running_workflow_id ON executions (workflow_id) WHERE status = 'Running';
CREATE INDEX executions_workflow_id ON executions (workflow_id, start_time);
CREATE INDEX executions_start_time ON executions (start_time, run_id);
CREATE INDEX executions_type_start_time ON executions (workflow_type, start_time);
CREATE INDEX executions_status_start_time ON executions (status, start_time);
CREATE INDEX executions_close_time ON executions (close_time) WHERE close_time IS NOT NULL;

CREATE TABLE history_events (
  run_id text NOT NULL,
  event_id integer NOT NULL,
  event_time bigint NOT NULL,
  event_type text NOT NULL,
  attributes text NOT NULL,
  PRIMARY KEY (run_id, event_id)
);

-- Typed search attributes, one row per value: text values in value_text, numbers (Int, Double,
-- Datetime as epoch ms, Bool as 0/1) in value_num.
CREATE TABLE search_attributes (
  run_id text NOT NULL,
  name text NOT NULL,
  value_text text,
  value_num double precision
);

CREATE INDEX search_attributes_run ON search_attributes (run_id);
CREATE INDEX search_attributes_text ON search_attributes (name, value_text, run_id) WHERE value_text IS NOT NULL;
CREATE INDEX search_attributes_num ON search_attributes (name, value_num, run_id) WHERE value_num IS NOT NULL;

CREATE TABLE search_attribute_types (
  name text PRIMARY KEY,
  type text NOT NULL
);

-- Everything that must happen later. Pollers of one queue claim from the head of tasks_ready with
-- FOR UPDATE SKIP LOCKED: they pass over each other's rows instead of waiting on them.
CREATE TABLE tasks (
  seq bigserial PRIMARY KEY,
  key text COLLATE "C" NOT NULL UNIQUE,
  kind text NOT NULL,
  run_id text NOT NULL,
  task_queue text,
  state text NOT NULL,
  expires_at bigint,
  claim_token bigint NOT NULL,
  claimed_by text,
  data text NOT NULL
);

CREATE INDEX tasks_ready ON tasks (kind, task_queue, seq) WHERE state = 'ready';
CREATE INDEX tasks_expiry ON tasks (expires_at) WHERE expires_at IS NOT NULL;

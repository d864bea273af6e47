-- W3 as PostgreSQL sees it, for pgbench: one run of this script is one W3 workflow, written the
-- way Keel writes it (bench/postgres.ts runs it to show what PostgreSQL alone can do with W3's
-- statements on this machine, without Keel's client and worker processes). The same tables,
-- indexes, transactions and statements, with rows of the same sizes: the start; the claim of the
-- first workflow task, run in the same transaction; three activity completions, each with the
-- workflow task it wakes (the last one's NOTIFY carries the outcome: the client reads nothing).
-- A completion does not read its run and task: the worker wrote them last, and keel_expect_rows
-- (migration 0003) locks them and checks them. States and task data are JSON objects, as Keel's.
-- Each pgbench client has its own task queue, so that its claim finds its own task (the same
-- index probe as Keel's claim) and never locks another client's: that made deadlocks, each a
-- second lost to deadlock_timeout. Statements go one at a time, unbatched. Keep it in step with
-- what the engine sends (a trace of one workflow shows it).
\set r random(1, 2000000000)
-- start
BEGIN;
SELECT run_id FROM executions WHERE workflow_id = 'w' || :r AND status = 'Running';
WITH e AS (INSERT INTO history_events (run_id, event_id, event_time, event_type, attributes) VALUES ('r' || :r, 1, 1, 'WorkflowExecutionStarted', repeat('x', 197)), ('r' || :r, 2, 1, 'WorkflowTaskScheduled', repeat('x', 61))), i AS (INSERT INTO executions (run_id, workflow_id, workflow_type, task_queue, status, start_time, close_time, history_length, memo, search_attributes, state) VALUES ('r' || :r, 'w' || :r, 'w3', 'bench', 'Running', 1, NULL, 2, NULL, NULL, '{"s":"' || repeat('s', 537) || '"}')), t AS (INSERT INTO tasks (key, kind, run_id, task_queue, state, expires_at, claim_token, claimed_by, data) VALUES ('r' || :r || '/workflow', 'workflow', 'r' || :r, 'bench' || :client_id, 'ready', NULL, 0, NULL, '{}')) SELECT pg_notify('keel_bench_bound', 'started');
COMMIT;
-- claim, with the first workflow task run in the same transaction
BEGIN;
SELECT key FROM tasks WHERE kind = 'workflow' AND task_queue = 'bench' || :client_id AND queue_partition = hashtext('r' || :r) & 3 AND state = 'ready' ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED;
SELECT state FROM executions WHERE run_id = 'r' || :r FOR UPDATE SKIP LOCKED;
SELECT event_id, event_time, event_type, attributes FROM history_events WHERE run_id = 'r' || :r AND event_id >= 1 ORDER BY event_id;
WITH e AS (INSERT INTO history_events (run_id, event_id, event_time, event_type, attributes) VALUES ('r' || :r, 3, 1, 'WorkflowTaskStarted', repeat('x', 43)), ('r' || :r, 4, 1, 'WorkflowTaskCompleted', repeat('x', 62)), ('r' || :r, 5, 1, 'ActivityTaskScheduled', repeat('x', 270))), u AS (UPDATE executions SET status = 'Running', close_time = NULL, history_length = 5, memo = NULL, search_attributes = NULL, state = '{"s":"' || repeat('s', 537) || '"}' WHERE run_id = 'r' || :r), d AS (DELETE FROM tasks WHERE key = 'r' || :r || '/workflow'), t AS (INSERT INTO tasks (key, kind, run_id, task_queue, state, expires_at, claim_token, claimed_by, data) VALUES ('r' || :r || '/activity/5', 'activity', 'r' || :r, 'bench', 'claimed', 1, 7, 'w', '{"d":"' || repeat('d', 292) || '"}')) SELECT 1;
COMMIT;
-- the first activity's result, with the workflow task it wakes
BEGIN;
SELECT keel_expect_rows(('[{"r":"r' || :r || '","s":' || '{"s":"' || repeat('s', 537) || '"}' || '}]')::json, ('[{"k":"r' || :r || '/activity/5","n":"activity","r":"r' || :r || '","q":"bench","s":"claimed","e":1,"c":7,"b":"w","d":' || '{"d":"' || repeat('d', 292) || '"}' || '}]')::json);
WITH e AS (INSERT INTO history_events (run_id, event_id, event_time, event_type, attributes) VALUES ('r' || :r, 6, 1, 'ActivityTaskStarted', repeat('x', 55)), ('r' || :r, 7, 1, 'ActivityTaskCompleted', repeat('x', 73)), ('r' || :r, 8, 1, 'WorkflowTaskScheduled', repeat('x', 61)), ('r' || :r, 9, 1, 'WorkflowTaskStarted', repeat('x', 43)), ('r' || :r, 10, 1, 'WorkflowTaskCompleted', repeat('x', 62)), ('r' || :r, 11, 1, 'ActivityTaskScheduled', repeat('x', 270))), u AS (UPDATE executions SET status = 'Running', close_time = NULL, history_length = 11, memo = NULL, search_attributes = NULL, state = '{"s":"' || repeat('s', 537) || '"}' WHERE run_id = 'r' || :r), d0 AS (DELETE FROM tasks WHERE key = 'r' || :r || '/activity/5'), d1 AS (DELETE FROM tasks WHERE key = 'r' || :r || '/workflow'), t AS (INSERT INTO tasks (key, kind, run_id, task_queue, state, expires_at, claim_token, claimed_by, data) VALUES ('r' || :r || '/activity/11', 'activity', 'r' || :r, 'bench', 'claimed', 1, 7, 'w', '{"d":"' || repeat('d', 292) || '"}')) SELECT 1;
COMMIT;
-- the second
BEGIN;
SELECT keel_expect_rows(('[{"r":"r' || :r || '","s":' || '{"s":"' || repeat('s', 537) || '"}' || '}]')::json, ('[{"k":"r' || :r || '/activity/11","n":"activity","r":"r' || :r || '","q":"bench","s":"claimed","e":1,"c":7,"b":"w","d":' || '{"d":"' || repeat('d', 292) || '"}' || '}]')::json);
WITH e AS (INSERT INTO history_events (run_id, event_id, event_time, event_type, attributes) VALUES ('r' || :r, 12, 1, 'ActivityTaskStarted', repeat('x', 55)), ('r' || :r, 13, 1, 'ActivityTaskCompleted', repeat('x', 73)), ('r' || :r, 14, 1, 'WorkflowTaskScheduled', repeat('x', 61)), ('r' || :r, 15, 1, 'WorkflowTaskStarted', repeat('x', 43)), ('r' || :r, 16, 1, 'WorkflowTaskCompleted', repeat('x', 62)), ('r' || :r, 17, 1, 'ActivityTaskScheduled', repeat('x', 270))), u AS (UPDATE executions SET status = 'Running', close_time = NULL, history_length = 17, memo = NULL, search_attributes = NULL, state = '{"s":"' || repeat('s', 537) || '"}' WHERE run_id = 'r' || :r), d0 AS (DELETE FROM tasks WHERE key = 'r' || :r || '/activity/11'), d1 AS (DELETE FROM tasks WHERE key = 'r' || :r || '/workflow'), t AS (INSERT INTO tasks (key, kind, run_id, task_queue, state, expires_at, claim_token, claimed_by, data) VALUES ('r' || :r || '/activity/17', 'activity', 'r' || :r, 'bench', 'claimed', 1, 7, 'w', '{"d":"' || repeat('d', 292) || '"}')) SELECT 1;
COMMIT;
-- the third, and the workflow's completion
BEGIN;
SELECT keel_expect_rows(('[{"r":"r' || :r || '","s":' || '{"s":"' || repeat('s', 537) || '"}' || '}]')::json, ('[{"k":"r' || :r || '/activity/17","n":"activity","r":"r' || :r || '","q":"bench","s":"claimed","e":1,"c":7,"b":"w","d":' || '{"d":"' || repeat('d', 292) || '"}' || '}]')::json);
WITH e AS (INSERT INTO history_events (run_id, event_id, event_time, event_type, attributes) VALUES ('r' || :r, 18, 1, 'ActivityTaskStarted', repeat('x', 55)), ('r' || :r, 19, 1, 'ActivityTaskCompleted', repeat('x', 73)), ('r' || :r, 20, 1, 'WorkflowTaskScheduled', repeat('x', 61)), ('r' || :r, 21, 1, 'WorkflowTaskStarted', repeat('x', 43)), ('r' || :r, 22, 1, 'WorkflowTaskCompleted', repeat('x', 62)), ('r' || :r, 23, 1, 'WorkflowExecutionCompleted', repeat('x', 46))), u AS (UPDATE executions SET status = 'Completed', close_time = 2, history_length = 23, memo = NULL, search_attributes = NULL, state = '{"s":"' || repeat('s', 537) || '"}' WHERE run_id = 'r' || :r), r AS (DELETE FROM tasks WHERE key >= 'r' || :r || '/' AND key < 'r' || :r || '0') SELECT pg_notify('keel_bench_bound', repeat('o', 300));
COMMIT;

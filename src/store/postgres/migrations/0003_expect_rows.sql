-- keel_expect_rows: locks runs and tasks that a process wrote last, and checks that they are still
-- as it wrote them (see src/store/postgres/known-rows.ts). A completion of a task the process holds
-- then needs no round trip to read them: this is sent with BEGIN, unanswered, and fails the
-- transaction (SQLSTATE KL001) if another process changed any of them since. It locks them in the
-- order of every batch's reads, in the columns' collations: runs by id, then tasks by key. One row
-- lookup each: never a plan that scans the tables.
CREATE FUNCTION keel_expect_rows(runs json, tasks json) RETURNS void
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  run record;
  task record;
  found_state text;
  found_task tasks%ROWTYPE;
BEGIN
  FOR run IN SELECT * FROM json_to_recordset(runs) AS x(r text, s json) ORDER BY r LOOP
    SELECT state INTO found_state FROM executions WHERE run_id = run.r FOR UPDATE;
    IF found_state IS DISTINCT FROM run.s::text THEN
      RAISE EXCEPTION 'keel: run % changed since this process wrote it', run.r USING ERRCODE = 'KL001';
    END IF;
  END LOOP;
  FOR task IN SELECT * FROM json_to_recordset(tasks)
      AS x(k text, n text, r text, q text, s text, e bigint, c bigint, b text, d json)
      ORDER BY k COLLATE "C" LOOP
    SELECT * INTO found_task FROM tasks WHERE key = task.k FOR UPDATE;
    IF NOT FOUND OR (found_task.kind, found_task.run_id, found_task.task_queue, found_task.state,
        found_task.expires_at, found_task.claim_token, found_task.claimed_by, found_task.data)
        IS DISTINCT FROM (task.n, task.r, task.q, task.s, task.e, task.c, task.b, task.d::text) THEN
      RAISE EXCEPTION 'keel: task % changed since this process wrote it', task.k USING ERRCODE = 'KL001';
    END IF;
  END LOOP;
END
$$;

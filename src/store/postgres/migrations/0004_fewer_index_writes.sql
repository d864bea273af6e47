-- Fewer index entries written per workflow: they were over half the records in the WAL of W3.
--
-- A run's row is rewritten at each step (its state). With full pages the new version lands on
-- another page, and each of the table's six indexes gets an entry for it; with room on the page,
-- PostgreSQL writes it there as a heap-only tuple (HOT), which no index sees. At fillfactor 30,
-- 72% of the updates of W3's runs were HOT (at most 75% can be: the update that closes a run
-- changes indexed columns), against 13% at 100, and the table took no more pages: a HOT chain's
-- dead versions are pruned on the page. Applies to pages written from now on.
ALTER TABLE executions SET (fillfactor = 30);

-- No task is looked up by seq: it only orders a queue (in tasks_ready). Its primary key cost an
-- index entry per task; the key, unique already, becomes the primary key. Rebuilds that index:
-- run it while workers are stopped if the table is big.
ALTER TABLE tasks DROP CONSTRAINT tasks_pkey, DROP CONSTRAINT tasks_key_key, ADD PRIMARY KEY (key);

/**
 * The fault tests' journal: every process appends one JSON line per event of interest (an activity
 * execution, a workflow task that stalls) to `journal-<pid>.ndjson` in the directory named by
 * `$KEEL_FAULT_DIR`, so that a test can see, across processes and SIGKILLs, what really ran where.
 * One file per process: no two writers share a file; a line cut short by a kill is skipped on read.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface JournalEntry {
  workflowId: string;
  /** An activity id, or 'workflow-task' for a workflow task that stalled. */
  what: string;
  phase: 'started' | 'done';
  attempt: number;
  pid: number;
  role: string;
}

/** What this process is in its test: 'stale' (behind the paused proxy), 'direct', or 'storm'. */
export const role = process.env.KEEL_FAULT_ROLE ?? 'worker';

export function faultDir(): string {
  const dir = process.env.KEEL_FAULT_DIR;
  if (!dir) throw new Error('KEEL_FAULT_DIR is not set');
  return dir;
}

export function journal(entry: Omit<JournalEntry, 'pid' | 'role'>): void {
  appendFileSync(
    join(faultDir(), `journal-${process.pid}.ndjson`),
    `${JSON.stringify({ ...entry, pid: process.pid, role })}\n`,
  );
}

/** Every entry of every process's journal in `dir`. */
export function readJournal(dir: string): JournalEntry[] {
  if (!existsSync(dir)) return [];
  const entries: JournalEntry[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.startsWith('journal-')) continue;
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
      if (line === '') continue;
      try {
        entries.push(JSON.parse(line) as JournalEntry);
      } catch {
        // a line cut short by SIGKILL
      }
    }
  }
  return entries;
}

/** A gate the test opens (by creating the file) to let a held activity or workflow task go on. */
export function gatePath(dir: string, name: string): string {
  return join(dir, `gate-${name}`);
}

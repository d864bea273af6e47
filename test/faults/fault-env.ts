/**
 * Scaffolding of the fault tests: a temporary directory (journal, gates), worker processes running
 * fault-worker.ts, and a teardown that kills them all and removes the directory.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { spawnNode, type NodeProcess } from '../helpers/processes.ts';
import { gatePath, readJournal, type JournalEntry } from './journal.ts';

export interface FaultEnv {
  dir: string;
  processes: NodeProcess[];
  /** Spawns a worker process (identity given, role as in journal.ts); wait for its 'ready' line. */
  spawnWorker(connection: string, taskQueue: string, identity: string, role: string): NodeProcess;
  journal(): JournalEntry[];
  /** Journal entries by `<workflowId>/<activity id or 'workflow-task'>`. */
  journalByActivity(): Map<string, JournalEntry[]>;
  openGate(name: string): void;
  dispose(): Promise<void>;
}

export function faultEnv(): FaultEnv {
  const dir = mkdtempSync(join(tmpdir(), 'keel-faults-'));
  const processes: NodeProcess[] = [];
  return {
    dir,
    processes,
    spawnWorker(connection, taskQueue, identity, role) {
      const worker = spawnNode(import.meta.url, './fault-worker.ts', [connection, taskQueue, identity], {
        KEEL_FAULT_DIR: dir,
        KEEL_FAULT_ROLE: role,
      });
      processes.push(worker);
      return worker;
    },
    journal: () => readJournal(dir),
    journalByActivity() {
      const byActivity = new Map<string, JournalEntry[]>();
      for (const entry of readJournal(dir)) {
        const key = `${entry.workflowId}/${entry.what}`;
        byActivity.set(key, [...(byActivity.get(key) ?? []), entry]);
      }
      return byActivity;
    },
    openGate(name) {
      writeFileSync(gatePath(dir, name), '');
    },
    async dispose() {
      await Promise.all(processes.map((p) => p.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Sleeps `ms`, or less if `stop()` turns true meanwhile (checked every 50 ms). */
export async function sleepUnless(ms: number, stop: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!stop() && Date.now() < until) await delay(Math.min(50, until - Date.now()));
}

/** Polls `probe` every `everyMs` until it returns true; throws `what` after `timeoutMs`. Probe errors are retried. */
export async function waitUntil(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`,
      );
    }
    await delay(everyMs);
  }
}

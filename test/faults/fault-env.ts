/**
 * Scaffolding of the fault tests: a temporary directory (journal, gates), worker processes running
 * fault-worker.ts, and a teardown that kills them all and removes the directory.
 */
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { spawnNode, type NodeProcess } from '../helpers/processes.ts';
import { gatePath, readJournal, type JournalEntry } from './journal.ts';

export interface FaultEnv {
  dir: string;
  processes: NodeProcess[];
  /** Spawns a worker process (identity given, role as in journal.ts); wait for its 'ready' line. */
  spawnWorker(
    connection: string,
    taskQueue: string,
    identity: string,
    role: string,
    env?: Record<string, string>,
  ): NodeProcess;
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
    spawnWorker(connection, taskQueue, identity, role, env = {}) {
      const worker = spawnNode(
        import.meta.url,
        './fault-worker.ts',
        [connection, taskQueue, identity],
        {
          KEEL_FAULT_DIR: dir,
          KEEL_FAULT_ROLE: role,
          ...env,
        },
      );
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

/**
 * `promise`, or a rejection as soon as one of `workers` exits (with its output: a crash is reported
 * as such instead of as a hang) or after `timeoutMs`.
 */
export async function whileAlive<T>(
  what: string,
  promise: Promise<T>,
  workers: NodeProcess[],
  timeoutMs: number,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      ...workers.map((worker) =>
        worker.exited.then(({ code, signal }) => {
          throw new Error(
            `a worker exited (code ${code}, signal ${signal}) while waiting for ${what}; its stdout: ${worker.stdout().slice(-2000)}; its stderr: ${worker.stderr().slice(-4000)}`,
          );
        }),
      ),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the fault test files one at a time across processes (`npm test` runs two files at once): a
 * kill storm, a network pause and a PostgreSQL restart must not disturb each other's timings. The
 * lock is a file in the temp directory holding its owner's pid; a dead owner's lock is taken over.
 * Returns the release function (also called at exit).
 */
export async function exclusiveFaultRun(): Promise<() => void> {
  const path = join(tmpdir(), 'keel-fault-tests.lock');
  const release = () => {
    try {
      if (readFileSync(path, 'utf8') === String(process.pid)) unlinkSync(path);
    } catch {
      // not ours, or gone
    }
  };
  for (;;) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      process.once('exit', release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number(readFileSync(path, 'utf8') || 0);
    if (owner > 0 && !isAlive(owner)) rmSync(path, { force: true });
    else await delay(200);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Where the CPU went during a benchmark phase, per group of processes (this client, the worker
 * processes, the local PostgreSQL server's processes), from /proc (Linux): on a machine with few
 * cores, the processes of a benchmark compete for the same CPUs, and this shows how close a run
 * came to using them all and who used what.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0; // gone, or no /proc
  }
}

/** CPU seconds the whole machine has spent busy (all processes, the kernel, interrupts) so far. */
function machineBusySeconds(): number {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    // user nice system idle iowait irq softirq steal (guest time is counted in user already)
    const [user, nice, system, , , irq, softirq, steal] = ticks.map(Number);
    return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

function postgresPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .map(Number)
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('postgres');
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
}

export interface CpuUse {
  /** CPU seconds per workflow, in milliseconds, by group. */
  msPerWorkflow: { client: number; workers: number; postgres: number };
  /** Cores kept busy on average by the three groups together, and how many the machine has. */
  coresBusy: number;
  cores: number;
  /**
   * Cores kept busy meanwhile by the rest of the machine (other services, the kernel's threads and
   * interrupts): CPU the benchmark's processes could not have.
   */
  otherCoresBusy: number;
}

/** Starts counting CPU of this process, `workerPids` and PostgreSQL; `stop(workflows)` reports. */
export function countCpu(workerPids: number[]): { stop(workflows: number): CpuUse | undefined } {
  const sample = () => ({
    at: performance.now(),
    client: cpuSeconds(process.pid),
    workers: workerPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0),
    // Backends come and go; those that ended during the phase are missed (a few, idle ones).
    postgres: new Map(postgresPids().map((pid) => [pid, cpuSeconds(pid)])),
    machine: machineBusySeconds(),
  });
  const before = sample();
  return {
    stop(workflows) {
      const after = sample();
      if (after.client === 0) return undefined; // not Linux
      let postgres = 0;
      for (const [pid, seconds] of after.postgres)
        postgres += seconds - (before.postgres.get(pid) ?? 0);
      const perWorkflow = (seconds: number) => Math.round((seconds * 1e5) / workflows) / 100;
      const total = after.client - before.client + (after.workers - before.workers) + postgres;
      const elapsedSeconds = (after.at - before.at) / 1000;
      const coresOver = (cpuSeconds: number) =>
        Math.round((cpuSeconds / elapsedSeconds) * 100) / 100;
      return {
        msPerWorkflow: {
          client: perWorkflow(after.client - before.client),
          workers: perWorkflow(after.workers - before.workers),
          postgres: perWorkflow(postgres),
        },
        coresBusy: coresOver(total),
        cores: availableParallelism(),
        otherCoresBusy: Math.max(0, coresOver(after.machine - before.machine - total)),
      };
    },
  };
}

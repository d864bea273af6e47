/**
 * Which processes poll which task queues, and which of them a task-ready hint wakes. NOTIFY reaches
 * every listening process: without this, each hint woke every worker process polling the queue,
 * and all but one found nothing to claim (with 4 worker processes, W3 one at a time made four
 * claims per workflow where one would do). Processes announce what they poll over NOTIFY; a hint
 * carries a random `pick` and how many tasks it announces, and every process works out the same
 * few to wake from the same view, as Temporal's matching gives a task to one poller.
 *
 * Views can disagree for a moment (a process just started, or died without saying so): a hint
 * may then wake two processes, or none. Hints only cut latency (pollers poll anyway), and a process
 * that was picked while it had no free slot passes the hint on to all (see `Worker`).
 */
import type { TaskKind } from '../../state/tasks.ts';
import type { StoreHint } from '../store.ts';

/** How often a process polling queues says so; a process not heard from for three times this is forgotten. */
export const POLLERS_ANNOUNCE_MS = 5_000;

/** A queue and the kind of task taken from it: what a poller polls. */
export type Polled = [kind: TaskKind, taskQueue: string];

/** The hint for tasks made ready, with which of the pollers of their queue it wakes (see `pickedBy`). */
export type TaskReadyHint = Extract<StoreHint, { type: 'task-ready' }>;

export class PollerDirectory {
  /** What this process polls, with how many of its pollers poll it. */
  private readonly local = new Map<string, { polled: Polled; count: number }>();
  private readonly peers = new Map<string, { polls: Set<string>; heardAt: number }>();

  constructor(
    private readonly self: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records that a poller of this process polls `polled`; returns the undo. */
  add(polled: Polled[]): () => void {
    for (const entry of polled) {
      const key = keyOf(entry);
      const held = this.local.get(key);
      if (held) held.count++;
      else this.local.set(key, { polled: entry, count: 1 });
    }
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      for (const entry of polled) {
        const key = keyOf(entry);
        const held = this.local.get(key)!;
        if (--held.count === 0) this.local.delete(key);
      }
    };
  }

  /** What this process polls, to announce. */
  polledHere(): Polled[] {
    return [...this.local.values()].map((held) => held.polled);
  }

  /** Another process announced what it polls (nothing: it stopped). True if it was not known. */
  heard(origin: string, polls: Polled[]): boolean {
    const known = this.peers.has(origin);
    if (polls.length === 0) this.peers.delete(origin);
    else this.peers.set(origin, { polls: new Set(polls.map(keyOf)), heardAt: this.now() });
    return !known && polls.length > 0;
  }

  /**
   * Whether `hint` should wake this process's pollers. Yes unless it was spread over the pollers of
   * its queue, this process polls that queue, and it is not among those picked.
   */
  wakesHere(hint: StoreHint): boolean {
    if (hint.type !== 'task-ready' || !hint.spread) return true;
    if (!this.local.has(keyOf([hint.kind, hint.taskQueue]))) return true; // not ours: dropped
    return pickedBy(hint.spread, this.pollersOf(hint.kind, hint.taskQueue)).includes(this.self);
  }

  /** The processes known to poll `taskQueue` for `kind` (this one first, if it does). */
  pollersOf(kind: TaskKind, taskQueue: string): string[] {
    const key = keyOf([kind, taskQueue]);
    const forgetBefore = this.now() - 3 * POLLERS_ANNOUNCE_MS;
    const pollers = this.local.has(key) ? [this.self] : [];
    for (const [origin, peer] of this.peers) {
      if (peer.heardAt < forgetBefore) this.peers.delete(origin);
      else if (peer.polls.has(key)) pollers.push(origin);
    }
    return pollers;
  }
}

/**
 * The pollers a spread hint wakes: `count` of them (all if fewer), in a ring from `pick`. Every
 * process sorts the same ids the same way, so that they agree when their views do.
 */
export function pickedBy(spread: { pick: number; count: number }, pollers: string[]): string[] {
  const ring = [...pollers].sort();
  const wake = Math.min(Math.max(spread.count, 1), ring.length);
  return Array.from({ length: wake }, (_, i) => ring[(spread.pick + i) % ring.length]!);
}

/**
 * `hints` with the task-ready hints of each queue and kind merged into one that says how many
 * tasks it announces and picks who wakes (`pickOf` gives the pick of each queue and kind, so that
 * the hints a process gives itself and those it sends others agree). Other hints are kept as they are.
 */
export function spreadTaskHints(
  hints: StoreHint[],
  pickOf: (kind: TaskKind, taskQueue: string) => number,
): StoreHint[] {
  const merged = new Map<string, TaskReadyHint & { spread: { pick: number; count: number } }>();
  const spread: StoreHint[] = [];
  for (const hint of hints) {
    if (hint.type !== 'task-ready') {
      spread.push(hint);
      continue;
    }
    const key = keyOf([hint.kind, hint.taskQueue]);
    const held = merged.get(key);
    if (held) held.spread.count++;
    else {
      const one = {
        type: 'task-ready' as const,
        kind: hint.kind,
        taskQueue: hint.taskQueue,
        spread: { pick: pickOf(hint.kind, hint.taskQueue), count: 1 },
      };
      merged.set(key, one);
      spread.push(one);
    }
  }
  return spread;
}

function keyOf([kind, taskQueue]: Polled): string {
  return polledKey(kind, taskQueue);
}

/** A queue and kind of task as one map key. */
export function polledKey(kind: TaskKind, taskQueue: string): string {
  return `${kind}\u0000${taskQueue}`;
}

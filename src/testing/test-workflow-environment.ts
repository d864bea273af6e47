import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from '../client/client.ts';
import { toMs, type Duration } from '../common/duration.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import type { Store } from '../store/store.ts';
import { Engine } from '../engine/engine.ts';
import { TimeSkipper } from './time-skipper.ts';
import { VirtualClock } from './virtual-clock.ts';

/**
 * An engine on a private store for tests: nothing to download, nothing to start. Workers are created
 * against `env.store`.
 *
 * @example
 * const env = await TestWorkflowEnvironment.createLocal();
 * const worker = await Worker.create({ store: env.store, taskQueue: 'test', workflows, activities });
 * const result = await worker.runUntil(env.client.workflow.execute(orderWorkflow, { taskQueue: 'test', workflowId: 'o-1', args: [order] }));
 * await env.teardown();
 */
export class TestWorkflowEnvironment {
  private constructor(
    readonly store: Store,
    readonly client: Client,
    private readonly directory: string,
    private readonly skipper?: TimeSkipper,
  ) {}

  /** An environment on a new SQLite file in a temporary directory, with the real clock. */
  static async createLocal(): Promise<TestWorkflowEnvironment> {
    const directory = mkdtempSync(join(tmpdir(), 'keel-env-'));
    // A test database need not survive power loss: skip fsync for speed.
    const store = SqliteStore.open(join(directory, 'keel.db'), { synchronous: 'normal' });
    return new TestWorkflowEnvironment(store, new Client({ store }), directory);
  }

  /**
   * An environment whose clock skips ahead: while a test awaits `handle.result()` (of a handle from
   * `env.client`) and every workflow is blocked on a timer with no activity running, time jumps to
   * the next timer. A workflow that sleeps 30 days completes at once. `env.sleep()` moves time by hand.
   * Workers must be created with `store: env.store` (its clock is the virtual one).
   *
   * @example
   * const env = await TestWorkflowEnvironment.createTimeSkipping();
   * const worker = await Worker.create({ store: env.store, taskQueue: 'test', workflows, activities });
   * await worker.runUntil(env.client.workflow.execute(reminder, { taskQueue: 'test', workflowId: 'r', args: ['30 days'] }));
   */
  static async createTimeSkipping(): Promise<TestWorkflowEnvironment> {
    const directory = mkdtempSync(join(tmpdir(), 'keel-env-'));
    const clock = new VirtualClock();
    const store = SqliteStore.open(join(directory, 'keel.db'), { synchronous: 'normal', clock });
    const skipper = new TimeSkipper(store, new Engine(store), clock);
    const client = new Client({ store, onResultWait: () => skipper.requestAutoSkip() });
    return new TestWorkflowEnvironment(store, client, directory, skipper);
  }

  /** The environment's current time (virtual in a time-skipping environment). */
  get currentTime(): Date {
    return new Date(this.store.clock.now());
  }

  /**
   * Lets `duration` pass. In a time-skipping environment time jumps (timers due meanwhile fire in
   * order, and workers react to each); otherwise this waits in real time.
   */
  async sleep(duration: Duration): Promise<void> {
    const ms = toMs(duration, 'sleep duration');
    if (this.skipper) await this.skipper.sleep(ms);
    else await delay(ms);
  }

  /** Closes the store and deletes its files. */
  async teardown(): Promise<void> {
    await this.skipper?.close();
    await this.client.close();
    await this.store.close();
    rmSync(this.directory, { recursive: true, force: true });
  }
}

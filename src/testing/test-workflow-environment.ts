import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from '../client/client.ts';
import { toMs, type Duration } from '../common/duration.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import type { Store } from '../store/store.ts';

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
  ) {}

  /** An environment on a new SQLite file in a temporary directory, with the real clock. */
  static async createLocal(): Promise<TestWorkflowEnvironment> {
    const directory = mkdtempSync(join(tmpdir(), 'keel-env-'));
    // A test database need not survive power loss: skip fsync for speed.
    const store = SqliteStore.open(join(directory, 'keel.db'), { synchronous: 'normal' });
    return new TestWorkflowEnvironment(store, new Client({ store }), directory);
  }

  /** The environment's current time. */
  get currentTime(): Date {
    return new Date();
  }

  /** Lets `duration` pass. */
  async sleep(duration: Duration): Promise<void> {
    await delay(toMs(duration, 'sleep duration'));
  }

  /** Closes the store and deletes its files. */
  async teardown(): Promise<void> {
    await this.client.close();
    await this.store.close();
    rmSync(this.directory, { recursive: true, force: true });
  }
}

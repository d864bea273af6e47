/**
 * Many processes on one database, each with its own store: two workers (caching only two runs each,
 * so that runs move between them and replay) and three clients that signal, update and query the
 * same workflows at once. Every run must end with the right balance and a history that replays, in
 * event id order and in time order (workflow time never goes back).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, type HistoryEvent } from 'keel/client';
import { PostgresStore, Worker } from 'keel/worker';
import * as activities from '../fixtures/account-activities.ts';
import * as workflows from '../fixtures/account-workflows.ts';
import { freshSchema } from '../helpers/postgres.ts';

const WORKFLOWS = 4;
const SENDERS = 6;
const MESSAGES_PER_SENDER = 30;

function assertInOrder(events: HistoryEvent[], workflowId: string): void {
  for (let i = 1; i < events.length; i++) {
    const [before, event] = [events[i - 1]!, events[i]!];
    assert.equal(event.eventId, before.eventId + 1, `${workflowId}: event ids skip`);
    assert.ok(
      event.eventTime >= before.eventTime,
      `${workflowId}: event ${event.eventId} (${event.eventType}) is ${before.eventTime - event.eventTime} ms before ${before.eventType}`,
    );
  }
}

test(
  'signals, updates and queries from three client stores to runs moving between two workers keep every history whole and in time order',
  { timeout: 90_000 },
  async () => {
    const { url, drop } = freshSchema();
    const errors: string[] = [];
    const logger = {
      log: (level: string, message: string) => void (level === 'error' && errors.push(message)),
    };
    const workers = await Promise.all(
      [1, 2].map(() =>
        Worker.create({
          connection: url,
          taskQueue: 'accounts',
          workflows,
          activities,
          maxCachedWorkflows: 2,
          logger,
        }),
      ),
    );
    const running = workers.map((worker) => worker.run());
    const stores = [1, 2, 3].map(() => PostgresStore.open(url));
    const clients = stores.map((store) => new Client({ store }));
    try {
      await Promise.all(
        Array.from({ length: WORKFLOWS }, async (_, w) => {
          const workflowId = `account-${w}`;
          const handle = await clients[0]!.workflow.start(workflows.account, {
            taskQueue: 'accounts',
            workflowId,
          });
          let expected = 0;
          await Promise.all(
            Array.from({ length: SENDERS }, async (_, s) => {
              const sender = clients[s % clients.length]!.workflow.getHandle(workflowId);
              for (let i = 0; i < MESSAGES_PER_SENDER; i++) {
                const kind = (i * 7 + s) % 5;
                if (kind < 3) {
                  await sender.signal(workflows.deposit, 10);
                  expected += 10;
                } else if (kind === 3) {
                  try {
                    await sender.executeUpdate(workflows.withdraw, { args: [7] });
                    expected -= 7;
                  } catch (error) {
                    const { message, cause } = error as Error & { cause?: Error };
                    assert.match(`${message} ${cause?.message}`, /insufficient funds/);
                  }
                } else await sender.query(workflows.balance);
              }
            }),
          );
          await handle.signal(workflows.close);
          const result = await handle.result();
          assert.equal(result.balance, expected, `${workflowId}: balance`);
          assert.deepEqual(
            result.times,
            [...result.times].sort((a, b) => a - b),
          );
          const history = await handle.fetchHistory();
          assertInOrder(history.events, workflowId);
          await Worker.runReplayHistory({ workflows }, history);
        }),
      );
      assert.deepEqual(errors, []);
    } finally {
      for (const worker of workers) worker.shutdown();
      await Promise.all(running);
      await Promise.all(clients.map((client) => client.close()));
      await Promise.all(stores.map((store) => store.close()));
      await drop();
    }
  },
);

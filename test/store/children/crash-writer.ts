/**
 * Child process of the crash test: runs transactions without end, 16 in flight at a time (so that
 * they are batched), and prints the number of each one whose commit was acknowledged. Each
 * transaction n writes run `crash-n`: one task and three history events.
 *
 * Usage: node --conditions=keel-source --import tsx crash-writer.ts <db path>
 */
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.ts';
import { activityTask, events } from '../records.ts';

const path = process.argv[2];
if (!path) throw new Error('usage: crash-writer.ts <db path>');
const store = SqliteStore.open(path);
let next = 0;

async function writeForever(): Promise<never> {
  for (;;) {
    const n = next++;
    const runId = `crash-${n}`;
    await store.transaction(async (tx) => {
      await tx.applyTaskChanges([{ op: 'put', task: activityTask(runId, 1) }]);
      await tx.appendEvents(runId, events(1, 3));
    });
    // Synchronous on a pipe (Linux): once the parent has read the line, the commit was acknowledged.
    process.stdout.write(`${n}\n`);
  }
}

await Promise.all(Array.from({ length: 16 }, () => writeForever()));

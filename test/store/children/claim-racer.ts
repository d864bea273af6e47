/**
 * Child process of the two-process claim race. Opens the database and prints `ready`; then, for each
 * `claim` line on stdin, claims workflow and activity tasks of the given queues (three claims of
 * each kind at once, two tasks per claim), prints every grant as a JSON line, then `done`. Exits
 * when stdin ends.
 *
 * Usage: node --conditions=keel-source --import tsx claim-racer.ts <db path> <identity> <workflow queue> <activity queue>
 */
import { createInterface } from 'node:readline';
import { Engine } from '../../../src/engine/engine.ts';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.ts';
import { claimRound } from '../records.ts';

const [path, identity, workflowQueue, activityQueue] = process.argv.slice(2);
if (!path || !identity || !workflowQueue || !activityQueue)
  throw new Error('usage: claim-racer.ts <db path> <identity> <workflow queue> <activity queue>');

const store = SqliteStore.open(path);
const engine = new Engine(store);
process.stdout.write('ready\n');
for await (const command of createInterface({ input: process.stdin })) {
  if (command !== 'claim') throw new Error(`unknown command ${command}`);
  for (const grant of await claimRound(engine, identity, workflowQueue, activityQueue)) {
    process.stdout.write(`${JSON.stringify(grant)}\n`);
  }
  process.stdout.write('done\n');
}
await store.close();

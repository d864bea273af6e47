/**
 * Saves the histories of the runs a list query selects as JSON files, for replay in CI:
 *
 *   node --import tsx examples/replay-in-ci/save-histories.ts ./keel.db examples/replay-in-ci/histories "WorkflowType = 'orderWorkflow'"
 *
 * Run it against a production (or staging) database now and then; commit the files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'keel/client';

const [dbPath, outDir, query = ''] = process.argv.slice(2);
if (!dbPath || !outDir) {
  console.error('usage: save-histories.ts <database> <output directory> [list query]');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const client = new Client({ connection: dbPath });
let saved = 0;
for await (const run of client.workflow.list({ query })) {
  const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
  writeFileSync(
    join(outDir, `${run.workflowType}-${run.workflowId}-${run.runId.slice(-8)}.json`),
    `${JSON.stringify(history, null, 2)}\n`,
  );
  saved++;
}
await client.close();
console.log(`Saved ${saved} histories to ${outDir}.`);

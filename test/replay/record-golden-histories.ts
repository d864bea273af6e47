/**
 * Records the golden histories: `node --conditions=keel-source --import tsx test/replay/record-golden-histories.ts`.
 * Run it only to add a new version of the files (test/fixtures/histories/v<N>); old versions stay
 * and must keep replaying.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { TestWorkflowEnvironment } from 'keel/testing';
import { Worker } from 'keel/worker';
import * as activities from '../fixtures/golden-activities.ts';
import * as workflows from '../fixtures/golden-workflows.ts';

const version = process.argv[2] ?? 'v1';
const dir = new URL(`../fixtures/histories/${version}/`, import.meta.url);
mkdirSync(dir, { recursive: true });

const env = await TestWorkflowEnvironment.createLocal();
const worker = await Worker.create({
  store: env.store,
  taskQueue: 'golden',
  workflows,
  activities,
  handleSignals: false,
  logger: { log() {} },
});
await worker.runUntil(
  (async () => {
    const handle = await env.client.workflow.start(workflows.golden, {
      taskQueue: 'golden',
      workflowId: 'golden',
      args: [3],
    });
    await handle.signal(workflows.add, 4);
    await handle.executeUpdate(workflows.setFactor, { args: [3], updateId: 'factor-3' });
    await handle.result();
    const counter = await env.client.workflow.start(workflows.goldenCounter, {
      taskQueue: 'golden',
      workflowId: 'golden-counter',
      args: [0],
    });
    await counter.result();
    for (const id of ['golden', 'golden-child']) {
      const history = await env.client.workflow.getHandle(id).fetchHistory();
      writeFileSync(new URL(`${id}.json`, dir), `${JSON.stringify(history, null, 2)}\n`);
    }
    for await (const run of env.client.workflow.list({ query: "WorkflowId = 'golden-counter'" })) {
      const history = await env.client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      writeFileSync(
        new URL(`golden-counter-${run.runId.slice(-6)}.json`, dir),
        `${JSON.stringify(history, null, 2)}\n`,
      );
    }
  })(),
);
await env.teardown();
console.log(`Recorded golden histories in ${dir.pathname}`);

/** The `keel` command against a real database: listing, inspecting, starting, and bad input. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { withTestEnv, tempDbPath } from '../helpers/env.ts';
import * as workflows from '../fixtures/basic-workflows.ts';
import * as activities from '../fixtures/basic-activities.ts';

const cli = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

function keel(...args: string[]) {
  const run = spawnSync(
    process.execPath,
    ['--conditions=keel-source', '--import', 'tsx', cli, ...args],
    {
      encoding: 'utf8',
    },
  );
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

test('list, show, describe and result read what a worker did', async () => {
  await withTestEnv(async (env) => {
    await env.startWorker({ workflows, activities });
    await env.client.workflow.execute(workflows.w3, {
      taskQueue: env.taskQueue,
      workflowId: 'cli-w3',
      args: [1],
    });

    const filtered = keel(
      'workflow',
      'list',
      '--db',
      env.dbPath,
      '--status',
      'Completed',
      '--query',
      "WorkflowId STARTS_WITH 'cli-'",
    );
    assert.match(filtered.stdout, /cli-w3\s+w3\s+Completed/);
    const none = keel('workflow', 'list', '--db', env.dbPath, '--status', 'Running', '--json');
    assert.deepEqual(JSON.parse(none.stdout), []);

    const list = keel('workflow', 'list', '--db', env.dbPath);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^WORKFLOW ID\s+TYPE\s+STATUS/m);
    assert.match(list.stdout, /cli-w3\s+w3\s+Completed/);

    const show = keel('workflow', 'show', 'cli-w3', '--db', env.dbPath, '--json');
    assert.equal(show.code, 0, show.stderr);
    const history = JSON.parse(show.stdout) as { events: { eventType: string }[] };
    assert.equal(history.events.at(-1)?.eventType, 'WorkflowExecutionCompleted');

    const describe = keel('workflow', 'describe', 'cli-w3', '--db', env.dbPath);
    assert.equal(JSON.parse(describe.stdout).status.name, 'Completed');

    const result = keel('workflow', 'result', 'cli-w3', '--db', env.dbPath);
    assert.equal(result.stdout.trim(), '4');
  });
});

test('start from the command line is picked up by a worker', async () => {
  await withTestEnv(async (env) => {
    const start = keel(
      'workflow',
      'start',
      'w3',
      '--db',
      env.dbPath,
      '--task-queue',
      env.taskQueue,
      '--workflow-id',
      'from-cli',
      '--args',
      '[41]',
    );
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, /Started from-cli/);
    await env.startWorker({ workflows, activities });
    assert.equal(await env.client.workflow.getHandle('from-cli').result(), 44);
  });
});

test('bad input gets a clear error and a non-zero exit', () => {
  const dbPath = tempDbPath();
  const unknownFlag = keel('workflow', 'list', '--db', dbPath, '--colour');
  assert.equal(unknownFlag.code, 2);
  assert.match(unknownFlag.stderr, /unknown option '--colour'/);

  const badLimit = keel('workflow', 'list', '--db', dbPath, '--limit', 'lots');
  assert.equal(badLimit.code, 2);
  assert.match(badLimit.stderr, /--limit must be a whole number/);

  const badArgs = keel(
    'workflow',
    'start',
    'w3',
    '--db',
    dbPath,
    '--task-queue',
    'q',
    '--workflow-id',
    'x',
    '--args',
    '{oops',
  );
  assert.equal(badArgs.code, 2);
  assert.match(badArgs.stderr, /is not JSON; give the arguments as a JSON array/);

  const badQuery = keel('workflow', 'list', '--db', dbPath, '--query', "WorkflowType == 'x'");
  assert.equal(badQuery.code, 1);
  assert.match(badQuery.stderr, /keel: Invalid list query: unknown operator '==' at position 13/);
  assert.doesNotMatch(badQuery.stderr, /at Parser\./, 'no stack trace for a user error');

  const missing = keel('workflow', 'describe', 'no-such-workflow', '--db', dbPath);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No workflow with id 'no-such-workflow'/);

  const notKeel = `${dbPath}.txt`;
  writeFileSync(notKeel, 'hello, I am a text file, not a database');
  const wrongFile = keel('workflow', 'list', '--db', notKeel);
  assert.equal(wrongFile.code, 1);
  assert.match(
    wrongFile.stderr,
    new RegExp(`${notKeel.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a Keel database`),
  );
});

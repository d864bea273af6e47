import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ExecutionStatus } from '../state/execution-state.ts';
import type { ExecutionSummary } from '../store/store.ts';
import { ExecutionStatus as Statuses } from '../state/execution-state.ts';
import { dbOption, positiveInt, withClient } from './options.ts';
import { formatEvent, formatTable } from './format.ts';

export function registerWorkflowCommands(program: Command): void {
  const workflow = program
    .command('workflow')
    .description('List, inspect, start and stop workflows');

  workflow
    .command('list')
    .description('List workflow runs, newest first')
    .addOption(dbOption())
    .addOption(
      new Option('--status <status>', 'only runs with this status').choices(
        Object.values(Statuses),
      ),
    )
    .option('--type <workflowType>', 'only runs of this workflow type')
    .option(
      '--query <query>',
      `a list filter, e.g. "CustomerId = 'c-42' AND StartTime > '2026-11-01T00:00:00Z'" (docs/visibility.md)`,
    )
    .option('--limit <n>', 'at most this many runs', positiveInt('--limit'), 50)
    .option('--json', 'print JSON')
    .action(
      async (
        options: {
          status?: ExecutionStatus;
          type?: string;
          query?: string;
          limit: number;
          json?: boolean;
        },
        command: Command,
      ) => {
        const quote = (value: string) => `'${value.replaceAll("'", "''")}'`;
        const filters = [
          options.status ? `ExecutionStatus = ${quote(options.status)}` : undefined,
          options.type ? `WorkflowType = ${quote(options.type)}` : undefined,
        ].filter(Boolean);
        // The user's query stays as typed when it is alone, so that error positions match it.
        const query = options.query
          ? filters.length > 0
            ? `${filters.join(' AND ')} AND (${options.query})`
            : options.query
          : filters.join(' AND ');
        await withClient(command, async (client) => {
          const runs: ExecutionSummary[] = [];
          for await (const run of client.workflow.list({
            query,
            pageSize: Math.min(options.limit, 100),
          })) {
            runs.push(run);
            if (runs.length >= options.limit) break;
          }
          if (options.json) return console.log(JSON.stringify(runs, null, 2));
          console.log(
            formatTable(
              ['WORKFLOW ID', 'TYPE', 'STATUS', 'STARTED', 'CLOSED', 'EVENTS'],
              runs.map((r) => [
                r.workflowId,
                r.workflowType,
                r.status,
                new Date(r.startTime).toISOString(),
                r.closeTime ? new Date(r.closeTime).toISOString() : '',
                String(r.historyLength),
              ]),
            ),
          );
        });
      },
    );

  workflow
    .command('describe <workflowId>')
    .description('Show status and pending work of a workflow (its latest run unless --run-id)')
    .addOption(dbOption())
    .option('--run-id <runId>', 'a specific run')
    .action(async (workflowId: string, options: { runId?: string }, command: Command) => {
      await withClient(command, async (client) => {
        console.log(
          JSON.stringify(
            await client.workflow.getHandle(workflowId, options.runId).describe(),
            null,
            2,
          ),
        );
      });
    });

  workflow
    .command('show <workflowId>')
    .description("Print a workflow run's event history")
    .addOption(dbOption())
    .option('--run-id <runId>', 'a specific run')
    .option('--json', 'print the history as JSON (the format replay takes)')
    .action(
      async (workflowId: string, options: { runId?: string; json?: boolean }, command: Command) => {
        await withClient(command, async (client) => {
          const history = await client.workflow.getHandle(workflowId, options.runId).fetchHistory();
          if (options.json) return console.log(JSON.stringify(history, null, 2));
          for (const event of history.events) console.log(formatEvent(event));
        });
      },
    );

  workflow
    .command('start <workflowType>')
    .description('Start a workflow (a worker on the task queue runs it)')
    .addOption(dbOption())
    .requiredOption('--task-queue <queue>', 'task queue of the workers that run it')
    .requiredOption('--workflow-id <id>', 'business id of the workflow')
    .option('--args <json>', 'arguments as a JSON array', parseJsonArray, [])
    .action(
      async (
        workflowType: string,
        options: { taskQueue: string; workflowId: string; args: unknown[] },
        command: Command,
      ) => {
        await withClient(command, async (client) => {
          const handle = await client.workflow.start(workflowType, {
            taskQueue: options.taskQueue,
            workflowId: options.workflowId,
            args: options.args,
          });
          console.log(`Started ${handle.workflowId} (run ${handle.runId}).`);
        });
      },
    );

  workflow
    .command('result <workflowId>')
    .description(
      'Wait for a workflow to close and print its result (exit 1 if it did not complete)',
    )
    .addOption(dbOption())
    .option('--run-id <runId>', 'a specific run')
    .action(async (workflowId: string, options: { runId?: string }, command: Command) => {
      await withClient(command, async (client) => {
        console.log(
          JSON.stringify(
            await client.workflow.getHandle(workflowId, options.runId).result(),
            null,
            2,
          ),
        );
      });
    });

  workflow
    .command('cancel <workflowId>')
    .description('Ask a workflow to cancel (it may clean up first)')
    .addOption(dbOption())
    .option('--run-id <runId>', 'a specific run')
    .action(async (workflowId: string, options: { runId?: string }, command: Command) => {
      await withClient(command, (client) =>
        client.workflow.getHandle(workflowId, options.runId).cancel(),
      );
      console.log(`Cancellation requested for ${workflowId}.`);
    });

  workflow
    .command('terminate <workflowId>')
    .description('End a workflow run at once')
    .addOption(dbOption())
    .option('--run-id <runId>', 'a specific run')
    .option('--reason <reason>', 'recorded in the history')
    .action(
      async (
        workflowId: string,
        options: { runId?: string; reason?: string },
        command: Command,
      ) => {
        await withClient(command, (client) =>
          client.workflow.getHandle(workflowId, options.runId).terminate(options.reason),
        );
        console.log(`Terminated ${workflowId}.`);
      },
    );
}

function parseJsonArray(value: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError(
      `'${value}' is not JSON; give the arguments as a JSON array, e.g. '[{"orderId": "o-1"}]'.`,
    );
  }
  if (!Array.isArray(parsed))
    throw new InvalidArgumentError('expected a JSON array of arguments, e.g. \'["o-1", 3]\'.');
  return parsed;
}

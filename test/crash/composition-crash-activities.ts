/**
 * Activities for the composition crash tests: each execution is journaled (name, phase, attempt, pid)
 * to the file in $KEEL_JOURNAL, so a test can count how often each really ran, across processes.
 */
import { appendFileSync } from 'node:fs';
import { Context } from 'keel/activity';

function journal(name: string, phase: string): void {
  const { attempt, workflowExecution } = Context.current().info;
  appendFileSync(
    process.env.KEEL_JOURNAL!,
    `${JSON.stringify({ workflowId: workflowExecution.workflowId, name, phase, attempt, pid: process.pid })}\n`,
  );
}

export async function journalStep(name: string, value: number): Promise<number> {
  journal(name, 'done');
  return value + 1;
}

/** Hangs (without heartbeats) on attempt 1 so that the worker can be killed during it. */
export async function hangsOnFirstAttempt(name: string): Promise<void> {
  journal(name, 'started');
  if (Context.current().info.attempt === 1) await new Promise(() => undefined);
  journal(name, 'done');
}

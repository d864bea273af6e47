/**
 * Activities that journal every execution (name, attempt, pid) to the file in $KEEL_JOURNAL, so
 * that a test can count how often each really ran, across processes.
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

export async function step(name: string, value: number): Promise<number> {
  journal(name, 'done');
  return value + 1;
}

/** Hangs (heartbeat-free) on attempt 1 so the worker can be killed mid-activity; returns at once after. */
export async function slowStep(name: string, value: number): Promise<number> {
  journal(name, 'started');
  if (Context.current().info.attempt === 1) await new Promise(() => undefined);
  journal(name, 'done');
  return value + 1;
}

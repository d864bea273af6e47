/** Workflows for test/integration/composition-crash.test.ts: a parent waiting on its children. */
import {
  condition,
  defineSignal,
  executeChild,
  proxyActivities,
  setHandler,
  workflowInfo,
} from 'keel/workflow';
import type * as activities from './composition-crash-activities.ts';

const { journalStep, hangsOnFirstAttempt } = proxyActivities<typeof activities>({
  startToCloseTimeout: '1500ms',
  retry: { initialInterval: '100ms' },
});

export const go = defineSignal('go');

/** Records a step, (child 0 only: runs an activity that hangs on its first attempt), waits for `go`. */
export async function crashChild(i: number): Promise<number> {
  let released = false;
  setHandler(go, () => {
    released = true;
  });
  const value = await journalStep(`child-${i}`, i);
  if (i === 0) await hangsOnFirstAttempt('child-0-slow');
  await condition(() => released);
  return value * 10;
}

/** Runs `n` children in parallel, then records a last step with their sum. */
export async function crashParent(n: number): Promise<number> {
  const id = workflowInfo().workflowId;
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      executeChild(crashChild, { workflowId: `${id}-${i}`, args: [i] }),
    ),
  );
  return journalStep(
    'parent-done',
    results.reduce((a, b) => a + b, 0),
  );
}

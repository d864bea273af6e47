import { proxyActivities, sleep } from 'keel/workflow';
import type * as activities from './crash-activities.ts';

const { step, slowStep } = proxyActivities<typeof activities>({
  startToCloseTimeout: '1500ms',
  retry: { initialInterval: '100ms' },
});

/** Three recorded steps in sequence (W3 with a journal). */
export async function threeSteps(input: number): Promise<number> {
  const a = await step('a', input);
  const b = await step('b', a);
  return step('c', b);
}

/** The middle step hangs on its first attempt until the process is killed. */
export async function hangsInTheMiddle(input: number): Promise<number> {
  const a = await step('a', input);
  const b = await slowStep('b', a);
  return step('c', b);
}

export async function sleepsThenSteps(ms: number): Promise<number> {
  await sleep(ms);
  return step('after-sleep', 0);
}

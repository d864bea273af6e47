import { proxyActivities } from 'keel/workflow';
import type * as activities from './w3-activities.ts';

const { addOne } = proxyActivities<typeof activities>({ startToCloseTimeout: '30s' });

/** W3: a workflow calling three activities in sequence, each returning its input + 1. */
export async function w3(input: number): Promise<number> {
  return addOne(await addOne(await addOne(input)));
}

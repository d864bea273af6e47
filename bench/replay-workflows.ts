import { condition, defineSignal, proxyActivities, setHandler } from 'keel/workflow';

const { addOne } = proxyActivities<{ addOne(n: number): Promise<number> }>({
  startToCloseTimeout: '30s',
});

export const wake = defineSignal('wake');

/** `steps` activities in sequence: a long history. */
export async function longRun(steps: number): Promise<number> {
  let n = 0;
  for (let i = 0; i < steps; i++) n = await addOne(n);
  return n;
}

/** An entity at rest: one activity done, then waiting for a signal, as cached workflows mostly are. */
export async function idleEntity(): Promise<number> {
  let woken = false;
  setHandler(wake, () => void (woken = true));
  const n = await addOne(0);
  await condition(() => woken);
  return n;
}

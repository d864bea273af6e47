/**
 * The engine's source of time. Tests swap in a virtual clock; workflow code never sees this one (it
 * sees the deterministic time of its workflow task).
 */

// Captured before the worker guards `Date` for workflow code, so engine time is always real time.
const realNow = Date.now.bind(Date);

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: realNow };

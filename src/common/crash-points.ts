/**
 * Named crash points: places where a process may die between doing work and recording it. A no-op
 * unless a test arms one with `KEEL_CRASH_AT=<name>` (or `<name>:<n>` for its n-th pass) in the
 * process's environment; the process then kills itself with SIGKILL there (no cleanup, no flush), as
 * a power cut or an OOM kill would.
 */
const [armed, armedPass] = (process.env.KEEL_CRASH_AT ?? '').split(':');
let passes = 0;

export type CrashPoint =
  /** A workflow task's commands were computed but not yet sent to the store. */
  | 'workflow-task-before-complete'
  /** An activity returned its result but the result was not yet recorded. */
  | 'activity-before-complete'
  /** A workflow start was committed; the client has not returned the handle yet. */
  | 'client-after-start';

export function crashPoint(name: CrashPoint): void {
  if (armed !== name) return;
  passes++;
  if (armedPass === undefined || Number(armedPass) === passes) process.kill(process.pid, 'SIGKILL');
}

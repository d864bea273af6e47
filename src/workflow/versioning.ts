import { currentActivator } from '../runtime/context.ts';

/**
 * Branches workflow code safely across a deploy: true for runs that reach this point with the new
 * code (a marker records it in the history), false when replaying a run that passed this point with
 * the old code. Semantics as Temporal's `patched()`.
 *
 * @example
 * if (patched('send-receipt')) await sendReceipt(order); // new behaviour
 */
export function patched(patchId: string): boolean {
  return currentActivator('patched()').patched(patchId, false);
}

/**
 * Marks a patch as deprecated once no run that lacks it can still replay: the new branch is then the
 * only one, and a later deploy can remove this call.
 */
export function deprecatePatch(patchId: string): void {
  currentActivator('deprecatePatch()').patched(patchId, true);
}

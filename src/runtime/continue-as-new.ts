import type { CommandAttributes } from '../state/commands.ts';

/**
 * Thrown by `continueAsNew()`: unwinds the workflow function; the run then closes as ContinuedAsNew
 * and a new run of the same workflow id starts with the given arguments.
 */
export class ContinueAsNew extends Error {
  override name = 'ContinueAsNew';

  constructor(
    readonly command: Partial<CommandAttributes['ContinueAsNewWorkflowExecution']> & {
      input: unknown[];
    },
  ) {
    super('Workflow continued as new');
  }
}

/**
 * Workflow code runs in the main realm, so a module-level variable is shared by every run in the
 * process: a classic nondeterminism (a replay sees what other runs left behind). What can be seen
 * from outside is a workflow module's exported non-function values; this watch snapshots them and
 * warns once per export that changes while workflows run. Unexported module state cannot be seen;
 * docs/design.md explains the rule (keep state in the workflow function's local variables).
 */
import type { WorkflowLogger } from '../runtime/workflow-info.ts';

export class ModuleStateWatch {
  private readonly snapshots = new Map<string, string>();
  private readonly warned = new Set<string>();

  constructor(
    private readonly source: Record<string, unknown>,
    private readonly logger: WorkflowLogger,
  ) {
    for (const [name, value] of Object.entries(source)) {
      if (typeof value !== 'function') this.snapshots.set(name, fingerprint(value));
    }
  }

  /** Compares the exports with their snapshot; call after a workflow task. Cheap when there are none. */
  check(workflowType: string): void {
    if (this.snapshots.size === 0) return;
    for (const [name, before] of this.snapshots) {
      const now = fingerprint(this.source[name]);
      if (now === before || this.warned.has(name)) continue;
      this.warned.add(name);
      this.snapshots.set(name, now);
      this.logger.log(
        'warn',
        `Workflow module export '${name}' changed while workflow '${workflowType}' ran. Module-level state is shared by every run in this process and breaks replay; keep workflow state in local variables of the workflow function.`,
        { workflowType, export: name },
      );
    }
  }
}

function fingerprint(value: unknown): string {
  try {
    return `${typeof value}:${JSON.stringify(value)}`;
  } catch {
    return `${typeof value}:unserialisable`;
  }
}

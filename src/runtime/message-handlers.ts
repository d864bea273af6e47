/**
 * Signal, query and update handlers of one run, and their delivery: signals that arrive before their
 * handler is set are buffered until it is; updates are validated (not on replay), accepted, and run;
 * queries read the state with commands forbidden.
 */
import { IllegalStateError, DeterminismViolationError } from '../common/errors.ts';
import { encodeFailure } from '../common/failure-converter.ts';
import { ApplicationFailure, KeelFailure } from '../common/failure.ts';
import { assertPayload } from '../common/payload.ts';
import type { Activator } from './activator.ts';
import type { QueryDefinition, SignalDefinition, UpdateDefinition } from './definitions.ts';

type Handler = (...args: any[]) => unknown;

export interface UpdateHandlerOptions<Args extends any[]> {
  /** Runs before the update is accepted; throwing rejects it and nothing is recorded. Must not change state. */
  validator?: (...args: Args) => void;
}

interface UpdateJob {
  updateId: string;
  name: string;
  input: unknown[];
  /** On replay the update was accepted before: no validator, accept at once. */
  replay: boolean;
}

export class MessageHandlers {
  /** Signal and update handlers still running (see `allHandlersFinished()`). */
  running = 0;
  private readonly signals = new Map<string, Handler>();
  private readonly queries = new Map<string, Handler>();
  private readonly updates = new Map<string, { handler: Handler; validator?: Handler }>();
  private defaultSignal?: (name: string, ...args: unknown[]) => unknown;
  private defaultQuery?: (name: string, ...args: unknown[]) => unknown;
  private defaultUpdate?: (name: string, ...args: unknown[]) => unknown;
  private bufferedSignals: { name: string; args: unknown[] }[] = [];
  private queuedUpdates: UpdateJob[] = [];

  constructor(private readonly activator: Activator) {}

  set(
    definition:
      SignalDefinition<any[]> | QueryDefinition<any, any[]> | UpdateDefinition<any, any[]>,
    handler: Handler | undefined,
    options?: UpdateHandlerOptions<any[]>,
  ): void {
    this.assertWritable('setHandler()');
    const { name } = definition;
    switch (definition.type) {
      case 'signal':
        if (handler) {
          this.signals.set(name, handler);
          this.drainBufferedSignals();
        } else this.signals.delete(name);
        return;
      case 'query':
        if (handler) this.queries.set(name, handler);
        else this.queries.delete(name);
        return;
      case 'update':
        if (handler)
          this.updates.set(name, {
            handler,
            ...(options?.validator ? { validator: options.validator } : {}),
          });
        else this.updates.delete(name);
        return;
      default:
        throw new TypeError(
          'setHandler() takes a definition from defineSignal, defineQuery or defineUpdate.',
        );
    }
  }

  setDefault(
    kind: 'signal' | 'query' | 'update',
    handler: ((name: string, ...args: unknown[]) => unknown) | undefined,
  ): void {
    this.assertWritable('setting a default handler');
    if (kind === 'signal') {
      this.defaultSignal = handler;
      if (handler) this.drainBufferedSignals();
    } else if (kind === 'query') this.defaultQuery = handler;
    else this.defaultUpdate = handler;
  }

  private assertWritable(what: string): void {
    if (this.activator.readOnly)
      throw new IllegalStateError(
        `${this.activator.readOnly} called ${what}: query handlers may only read the workflow's state.`,
      );
  }

  // ---- signals ----

  deliverSignal(name: string, args: unknown[]): void {
    const handler = this.signals.get(name);
    if (handler) return this.invoke(() => handler(...args));
    if (this.defaultSignal) {
      const fallback = this.defaultSignal;
      return this.invoke(() => fallback(name, ...args));
    }
    this.bufferedSignals.push({ name, args });
  }

  private drainBufferedSignals(): void {
    const buffered = this.bufferedSignals;
    this.bufferedSignals = [];
    for (const { name, args } of buffered) this.deliverSignal(name, args);
  }

  /** Runs a signal or update handler in the workflow's context, counting it while it runs. */
  private invoke(
    call: () => unknown,
    onResult?: (result: unknown) => void,
    onFailure?: (error: unknown) => boolean,
  ): void {
    let promise: Promise<unknown>;
    // Only a handler that returned a promise is still running afterwards: a synchronous one must not
    // count (the workflow may finish in this same activation without anything left unfinished).
    let pending = false;
    try {
      const returned = this.activator.run(call);
      pending = isThenable(returned);
      promise = Promise.resolve(returned);
    } catch (error) {
      promise = Promise.reject(error);
    }
    if (pending) this.running++;
    promise
      .then(
        (result) => onResult?.(result),
        (error: unknown) => {
          if (!onFailure?.(error)) this.activator.fail(error);
        },
      )
      .finally(() => {
        if (pending) this.running--;
      });
  }

  // ---- updates ----

  queueUpdate(job: UpdateJob): void {
    this.queuedUpdates.push(job);
  }

  get hasQueuedUpdates(): boolean {
    return this.queuedUpdates.length > 0;
  }

  /** Validates, accepts and starts the queued updates, in arrival order. */
  processUpdates(): void {
    const jobs = this.queuedUpdates;
    this.queuedUpdates = [];
    for (const job of jobs) this.processUpdate(job);
  }

  private processUpdate({ updateId, name, input, replay }: UpdateJob): void {
    const a = this.activator;
    const registered = this.updates.get(name);
    const fallback = this.defaultUpdate;
    const entry =
      registered ??
      (fallback ? { handler: (...args: unknown[]) => fallback(name, ...args) } : undefined);
    if (!entry) {
      if (replay) {
        a.workflowTaskError ??= new DeterminismViolationError(
          `The history accepted update '${name}' (id ${updateId}) but the workflow code has no handler for it now.`,
        );
        return;
      }
      const known = [...this.updates.keys()].join(', ') || 'none';
      return this.reject(
        updateId,
        ApplicationFailure.create({
          message: `Workflow '${a.info.workflowType}' has no handler for update '${name}'. Registered updates: ${known}.`,
          type: 'UpdateNotRegistered',
          nonRetryable: true,
        }),
      );
    }
    if (!replay && 'validator' in entry && entry.validator) {
      const validator = entry.validator;
      a.readOnly = `The validator of update '${name}'`;
      let rejection: { error: unknown } | undefined;
      try {
        a.run(() => validator(...input));
      } catch (error) {
        rejection = { error };
      } finally {
        a.readOnly = undefined;
      }
      // Outside the read-only window: the rejection itself is a command.
      if (rejection) return this.reject(updateId, rejection.error);
    }
    a.pushCommand({ commandType: 'AcceptWorkflowUpdate', attributes: { updateId, name, input } });
    this.invoke(
      () => entry.handler(...input),
      (result) => {
        try {
          assertPayload(result, `the result of update '${name}'`);
        } catch (error) {
          return this.complete(updateId, {
            failure: encodeFailure(
              ApplicationFailure.nonRetryable((error as Error).message, 'PayloadError'),
            ),
          });
        }
        this.complete(updateId, { success: result });
      },
      (error) => {
        // As in Temporal: a KeelFailure fails the update; any other error is a bug that fails the workflow task.
        if (!(error instanceof KeelFailure)) return false;
        this.complete(updateId, { failure: encodeFailure(error) });
        return true;
      },
    );
  }

  private reject(updateId: string, error: unknown): void {
    this.activator.pushCommand({
      commandType: 'RejectWorkflowUpdate',
      attributes: { updateId, failure: encodeFailure(error) },
    });
  }

  private complete(
    updateId: string,
    outcome: { success: unknown } | { failure: ReturnType<typeof encodeFailure> },
  ): void {
    this.activator.pushCommand({
      commandType: 'CompleteWorkflowUpdate',
      attributes: { updateId, outcome },
    });
  }

  // ---- queries ----

  /** Answers a query from the current state; throws (with the registered names) for an unknown one. */
  query(name: string, args: unknown[]): unknown {
    const a = this.activator;
    if (name === '__stack_trace') {
      return a
        .pending()
        .map((p) => `${p.description}${p.stack ? `\n${p.stack}` : ''}`)
        .join('\n\n');
    }
    const handler =
      this.queries.get(name) ??
      (this.defaultQuery ? (...rest: unknown[]) => this.defaultQuery!(name, ...rest) : undefined);
    if (!handler) {
      const known = [...this.queries.keys(), '__stack_trace'].join(', ');
      throw ApplicationFailure.create({
        message: `Workflow '${a.info.workflowType}' has no handler for query '${name}'. Registered queries: ${known}.`,
        type: 'QueryNotRegistered',
        nonRetryable: true,
      });
    }
    a.readOnly = `Query handler '${name}'`;
    a.readOnlyViolation = undefined;
    try {
      const result = a.run(() => handler(...args));
      if (result instanceof Promise) {
        result.catch(() => undefined); // its own failure is reported below, not left unhandled
        // An async handler that tried to make a command: that is the error to report.
        // (Read through a cast: the handler, not this function, may have set it.)
        const violation = a.readOnlyViolation as Error | undefined;
        if (violation) throw violation;
        throw new IllegalStateError(
          `Query handler '${name}' returned a promise: query handlers must be synchronous and only read the workflow's state.`,
        );
      }
      return result;
    } finally {
      a.readOnly = undefined;
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

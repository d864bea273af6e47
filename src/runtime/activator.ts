/**
 * The replay core of one workflow run: events in, commands out, no I/O.
 *
 * Each workflow API call (an activity, a timer, a child, a signal to another workflow) takes the next
 * sequence number of its kind, pushes a command and registers a completion; the command's event, once
 * matched, binds the sequence number to an event id, and the events that answer it (ActivityTaskCompleted,
 * TimerFired, ChildWorkflowExecutionCompleted, ...) resolve it. Messages (signals, queries, updates)
 * go to their handlers (`message-handlers.ts`). `WorkflowRunner` feeds events and checks the commands
 * against the history on replay.
 */
import type { Command } from '../state/commands.ts';
import type { HistoryEvent } from '../state/events.ts';
import { decodeFailure, encodeFailure } from '../common/failure-converter.ts';
import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  CancelledFailure,
  KeelFailure,
  RetryState,
  TerminatedFailure,
  TimeoutFailure,
  TimeoutType,
} from '../common/failure.ts';
import { IllegalStateError, WorkflowExecutionAlreadyStartedError } from '../common/errors.ts';
import { assertPayload } from '../common/payload.ts';
import { CancellationScope, runInScope } from './cancellation-scope.ts';
import { activatorStorage } from './context.ts';
import { ContinueAsNew } from './continue-as-new.ts';
import { MessageHandlers } from './message-handlers.ts';
import { seededRandom } from './random.ts';
import { systemClock } from '../engine/clock.ts';
import type { WorkflowInfo, WorkflowLogger } from './workflow-info.ts';
import type { ActivityCancellationType, CompiledActivityOptions } from './activity-options.ts';
import type { CompiledChildOptions } from './child-options.ts';

const realNow = (): number => systemClock.now();

interface Completion {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface PendingActivity extends Completion {
  activityId: string;
  activityType: string;
  cancellationType: ActivityCancellationType;
  /** Settled early (cancelled with TRY_CANCEL or ABANDON); later events for it are ignored. */
  settled: boolean;
  createdAt: Error;
}

interface PendingChild {
  workflowId: string;
  workflowType: string;
  cancellationType: ActivityCancellationType;
  started: Completion;
  result: Completion;
  runId?: string;
  /** Set once started; until then cancellation removes or abandons the start. */
  isStarted: boolean;
  settled: boolean;
  createdAt: Error;
}

type BindingKind = 'activity' | 'child' | 'external';

/** A workflow function: any async function of JSON-serialisable arguments. */
export type WorkflowFunction = (...args: any[]) => Promise<unknown>;

/** What is pending in a run, for the `__stack_trace` query. */
export interface PendingSummary {
  kind: string;
  description: string;
  stack?: string;
}

export class Activator {
  /** Commands produced by the current activation. */
  commands: Command[] = [];
  /** Workflow time: the start time of the current workflow task. */
  now = 0;
  isReplaying = false;
  /** True while an activation runs; commands made outside one mean the code awaited real I/O. */
  activating = false;
  /** An error that must fail the current workflow task (a bug in workflow code, not a workflow failure). */
  workflowTaskError?: Error;
  completed = false;
  /** Set while a query handler or an update validator runs: they must not make commands. */
  readOnly?: string;
  readonly rootScope = CancellationScope.root();
  readonly random: () => number;
  readonly info: WorkflowInfo;
  readonly messages: MessageHandlers;
  /** Patches whose markers the history has for the activation being replayed. */
  readonly knownPatches = new Set<string>();
  private readonly patchesUsed = new Map<string, boolean>();
  private readonly seq = { activity: 0, timer: 0, child: 0, external: 0 };
  private readonly activities = new Map<number, PendingActivity>();
  private readonly timers = new Map<number, Completion & { createdAt: Error; ms: number }>();
  private readonly children = new Map<number, PendingChild>();
  private readonly externals = new Map<number, Completion & { description: string }>();
  private readonly bindings = new WeakMap<Command, { kind: BindingKind; seq: number }>();
  private readonly seqByEventId = {
    activity: new Map<number, number>(),
    child: new Map<number, number>(),
    external: new Map<number, number>(),
  };
  private readonly conditions = new Set<{
    fn: () => boolean;
    resolve: () => void;
    createdAt: Error;
  }>();

  constructor(
    info: Omit<WorkflowInfo, 'unsafe'>,
    private readonly workflow: WorkflowFunction,
    readonly logger: WorkflowLogger,
  ) {
    const isReplaying = (): boolean => this.isReplaying;
    this.info = {
      ...info,
      unsafe: {
        get isReplaying() {
          return isReplaying();
        },
        now: realNow,
      },
    };
    this.random = seededRandom(info.runId);
    this.messages = new MessageHandlers(this);
  }

  /** Runs `fn` as this run's workflow code. */
  run<T>(fn: () => T): T {
    return activatorStorage.run(this, () => runInScope(this.rootScope, fn));
  }

  /**
   * Refuses workflow API calls that would make commands while a query handler or an update validator
   * runs, before anything is counted: they must leave the run exactly as they found it.
   */
  assertWritable(what: string): void {
    if (this.readOnly) {
      this.readOnlyViolation = new IllegalStateError(
        `${this.readOnly} tried to ${what}: query handlers and update validators may only read the workflow's state.`,
      );
      throw this.readOnlyViolation;
    }
  }

  /** The last refusal of `assertWritable`, so that an async handler's hidden rejection can be reported. */
  readOnlyViolation?: IllegalStateError;

  pushCommand(command: Command, binding?: { kind: BindingKind; seq: number }): void {
    this.assertWritable(`make a ${command.commandType} command`);
    if (this.completed) return; // after the run's closing command nothing else is sent, as in Temporal
    if (!this.activating && !this.workflowTaskError) {
      this.workflowTaskError = new IllegalStateError(
        `Workflow '${this.info.workflowType}' made a ${command.commandType} command outside a workflow task: its code awaited something that is not a workflow API (real I/O, a real timer, a dynamic import). Move that work into an activity.`,
      );
    }
    this.commands.push(command);
    if (binding) this.bindings.set(command, binding);
  }

  /** Removes a command of this activation that was not sent yet; false if it was already sent. */
  private unsend(match: (command: Command) => boolean): boolean {
    const index = this.commands.findIndex(match);
    if (index < 0) return false;
    this.commands.splice(index, 1);
    return true;
  }

  /** The history recorded the event of `command` with `eventId`: later events refer to it by that id. */
  bind(command: Command, eventId: number): void {
    const binding = this.bindings.get(command);
    if (binding) this.seqByEventId[binding.kind].set(eventId, binding.seq);
  }

  // ---- timers and activities ----

  startTimer(ms: number): { promise: Promise<void>; cancel: () => void } {
    this.assertWritable('start a timer');
    const scope = CancellationScope.current();
    const seq = ++this.seq.timer;
    const timerId = String(seq);
    let cancel = (): void => undefined;
    const promise = new Promise<void>((resolve, reject) => {
      if (scope.consideredCancelled) {
        reject(new CancelledFailure('Timer cancelled before it started'));
        return;
      }
      this.pushCommand({
        commandType: 'StartTimer',
        attributes: { timerId, startToFireTimeout: Math.max(1, ms) },
      });
      let unsubscribe = (): void => undefined;
      const settle = (): boolean => {
        unsubscribe();
        return this.timers.delete(seq);
      };
      this.timers.set(seq, {
        ms,
        createdAt: new Error('sleep'),
        resolve: (value) => {
          settle();
          resolve(value as void);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      });
      cancel = () => {
        if (!settle()) return;
        if (
          !this.unsend((c) => c.commandType === 'StartTimer' && c.attributes.timerId === timerId)
        ) {
          this.pushCommand({ commandType: 'CancelTimer', attributes: { timerId } });
        }
        reject(new CancelledFailure('Timer cancelled'));
      };
      unsubscribe = scope.onCancel(() => cancel());
    });
    return { promise, cancel };
  }

  scheduleActivity(
    activityType: string,
    args: unknown[],
    options: CompiledActivityOptions,
  ): Promise<unknown> {
    this.assertWritable(`schedule activity '${activityType}'`);
    const scope = CancellationScope.current();
    const seq = ++this.seq.activity;
    const activityId = options.activityId ?? String(seq);
    return new Promise((resolve, reject) => {
      if (scope.consideredCancelled) {
        reject(
          activityFailure(
            activityType,
            activityId,
            new CancelledFailure('Activity cancelled before it was scheduled'),
          ),
        );
        return;
      }
      this.pushCommand(
        {
          commandType: 'ScheduleActivityTask',
          attributes: {
            activityId,
            activityType,
            taskQueue: options.taskQueue ?? this.info.taskQueue,
            input: args,
            ...(options.scheduleToCloseTimeout
              ? { scheduleToCloseTimeout: options.scheduleToCloseTimeout }
              : {}),
            ...(options.scheduleToStartTimeout
              ? { scheduleToStartTimeout: options.scheduleToStartTimeout }
              : {}),
            startToCloseTimeout: options.startToCloseTimeout,
            ...(options.heartbeatTimeout ? { heartbeatTimeout: options.heartbeatTimeout } : {}),
            retryPolicy: options.retry,
          },
        },
        { kind: 'activity', seq },
      );
      let unsubscribe = (): void => undefined;
      this.activities.set(seq, {
        activityId,
        activityType,
        cancellationType: options.cancellationType,
        settled: false,
        createdAt: new Error(`activity ${activityType}`),
        resolve: (value) => {
          unsubscribe();
          resolve(value);
        },
        reject: (error) => {
          unsubscribe();
          reject(error);
        },
      });
      unsubscribe = scope.onCancel(() => this.cancelActivity(seq));
    });
  }

  private cancelActivity(seq: number): void {
    const pending = this.activities.get(seq);
    if (!pending || pending.settled) return;
    const cancelled = activityFailure(
      pending.activityType,
      pending.activityId,
      new CancelledFailure('Activity cancelled'),
    );
    const { activityId } = pending;
    if (
      this.unsend(
        (c) => c.commandType === 'ScheduleActivityTask' && c.attributes.activityId === activityId,
      )
    ) {
      this.activities.delete(seq);
      pending.reject(cancelled);
      return;
    }
    if (pending.cancellationType !== 'ABANDON') {
      this.pushCommand({ commandType: 'RequestCancelActivityTask', attributes: { activityId } });
    }
    if (pending.cancellationType !== 'WAIT_CANCELLATION_COMPLETED') {
      pending.settled = true;
      pending.reject(cancelled);
    }
  }

  /** The scheduled event id of a pending activity, for matching a cancellation request. */
  scheduledEventIdOf(activityId: string): number | undefined {
    for (const [eventId, seq] of this.seqByEventId.activity) {
      if (this.activities.get(seq)?.activityId === activityId) return eventId;
    }
    return undefined;
  }

  // ---- children and other workflows ----

  /** Starts a child; resolves with its run id once it started, and gives its result promise. */
  startChild(
    options: CompiledChildOptions,
    args: unknown[],
  ): { started: Promise<string>; result: Promise<unknown> } {
    this.assertWritable(`start child workflow '${options.workflowType}'`);
    const scope = CancellationScope.current();
    const seq = ++this.seq.child;
    let started!: Completion;
    let result!: Completion;
    const startedPromise = new Promise<string>(
      (resolve, reject) => (started = { resolve: resolve as Completion['resolve'], reject }),
    );
    const resultPromise = new Promise<unknown>((resolve, reject) => (result = { resolve, reject }));
    // Unobserved rejections are fine: a caller of executeChild only awaits one of the two.
    startedPromise.catch(() => undefined);
    resultPromise.catch(() => undefined);
    const failure = (cause: KeelFailure, runId = '') =>
      new ChildWorkflowFailure(
        undefined,
        { workflowId: options.workflowId, runId },
        options.workflowType,
        RetryState.NON_RETRYABLE_FAILURE,
        cause,
      );
    if (scope.consideredCancelled) {
      const cancelled = failure(new CancelledFailure('Child workflow cancelled before it started'));
      started.reject(cancelled);
      result.reject(cancelled);
      return { started: startedPromise, result: resultPromise };
    }
    const command: Command = {
      commandType: 'StartChildWorkflowExecution',
      attributes: {
        workflowId: options.workflowId,
        workflowType: options.workflowType,
        taskQueue: options.taskQueue ?? this.info.taskQueue,
        input: args,
        parentClosePolicy: options.parentClosePolicy,
        ...(options.workflowExecutionTimeout
          ? { workflowExecutionTimeout: options.workflowExecutionTimeout }
          : {}),
        ...(options.workflowRunTimeout ? { workflowRunTimeout: options.workflowRunTimeout } : {}),
        ...(options.workflowTaskTimeout
          ? { workflowTaskTimeout: options.workflowTaskTimeout }
          : {}),
        ...(options.retry ? { retryPolicy: options.retry } : {}),
        ...(options.memo ? { memo: options.memo } : {}),
        ...(options.searchAttributes ? { searchAttributes: options.searchAttributes } : {}),
      },
    };
    this.pushCommand(command, { kind: 'child', seq });
    const child: PendingChild = {
      workflowId: options.workflowId,
      workflowType: options.workflowType,
      cancellationType: options.cancellationType,
      started,
      result,
      isStarted: false,
      settled: false,
      createdAt: new Error(`child ${options.workflowType}`),
    };
    this.children.set(seq, child);
    const unsubscribe = scope.onCancel(() => {
      if (child.settled) return;
      const cancelled = failure(new CancelledFailure('Child workflow cancelled'), child.runId);
      if (!child.isStarted && this.unsend((c) => c === command)) {
        this.children.delete(seq);
        child.settled = true;
        started.reject(cancelled);
        result.reject(cancelled);
        return;
      }
      if (child.cancellationType !== 'ABANDON') {
        this.pushCommand(
          {
            commandType: 'RequestCancelExternalWorkflowExecution',
            attributes: {
              // By workflow id: the child may have continued as new since it started.
              workflowId: options.workflowId,
              childWorkflowOnly: true,
            },
          },
          {
            kind: 'external',
            seq: this.registerExternal(
              'cancel child',
              () => undefined,
              () => undefined,
            ),
          },
        );
      }
      if (child.cancellationType !== 'WAIT_CANCELLATION_COMPLETED') {
        child.settled = true;
        result.reject(cancelled);
      }
    });
    resultPromise.then(unsubscribe, unsubscribe);
    return { started: startedPromise, result: resultPromise };
  }

  private registerExternal(
    description: string,
    resolve: Completion['resolve'],
    reject: Completion['reject'],
  ): number {
    const seq = ++this.seq.external;
    this.externals.set(seq, { description, resolve, reject });
    return seq;
  }

  /** Signals another workflow; resolves once the signal was delivered. */
  signalExternal(
    workflowId: string,
    runId: string | undefined,
    signalName: string,
    args: unknown[],
  ): Promise<void> {
    this.assertWritable(`signal workflow '${workflowId}'`);
    return new Promise((resolve, reject) => {
      const seq = this.registerExternal(
        `signal ${signalName} to ${workflowId}`,
        resolve as Completion['resolve'],
        reject,
      );
      this.pushCommand(
        {
          commandType: 'SignalExternalWorkflowExecution',
          attributes: {
            workflowId,
            ...(runId ? { runId } : {}),
            signalName,
            input: args,
            childWorkflowOnly: false,
          },
        },
        { kind: 'external', seq },
      );
    });
  }

  /** Asks another workflow to cancel; resolves once the request was delivered. */
  cancelExternal(workflowId: string, runId: string | undefined): Promise<void> {
    this.assertWritable(`cancel workflow '${workflowId}'`);
    return new Promise((resolve, reject) => {
      const seq = this.registerExternal(
        `cancel ${workflowId}`,
        resolve as Completion['resolve'],
        reject,
      );
      this.pushCommand(
        {
          commandType: 'RequestCancelExternalWorkflowExecution',
          attributes: { workflowId, ...(runId ? { runId } : {}), childWorkflowOnly: false },
        },
        { kind: 'external', seq },
      );
    });
  }

  // ---- conditions, patches, visibility ----

  /** Resolves when `fn` returns true (checked after every activation step); cancellable by its scope. */
  condition(fn: () => boolean): Promise<void> {
    const scope = CancellationScope.current();
    return new Promise((resolve, reject) => {
      if (scope.consideredCancelled) return reject(new CancelledFailure('Condition cancelled'));
      if (fn()) return resolve();
      let unsubscribe = (): void => undefined;
      const entry = {
        fn,
        createdAt: new Error('condition'),
        resolve: () => {
          unsubscribe();
          resolve();
        },
      };
      this.conditions.add(entry);
      unsubscribe = scope.onCancel((reason) => {
        this.conditions.delete(entry);
        reject(reason);
      });
    });
  }

  /** Resolves the conditions that became true; returns whether any did. */
  checkConditions(): boolean {
    let fired = false;
    for (const entry of [...this.conditions]) {
      let result = false;
      try {
        result = this.run(entry.fn);
      } catch (error) {
        this.workflowTaskError ??= error instanceof Error ? error : new Error(String(error));
      }
      if (result) {
        this.conditions.delete(entry);
        entry.resolve();
        fired = true;
      }
    }
    return fired;
  }

  /** `patched()`: true for new code paths; on replay, true only if the history recorded this patch. */
  patched(patchId: string, deprecated: boolean): boolean {
    const used = this.patchesUsed.get(patchId);
    if (used !== undefined) return used;
    const taken = !this.isReplaying || this.knownPatches.has(patchId);
    if (taken)
      this.pushCommand({
        commandType: 'RecordMarker',
        attributes: { markerName: PATCH_MARKER, details: { patchId, deprecated } },
      });
    this.patchesUsed.set(patchId, taken);
    return taken;
  }

  // ---- history events in ----

  /** Applies one event that the workflow reacts to. */
  apply(event: HistoryEvent): void {
    switch (event.eventType) {
      case 'WorkflowExecutionStarted':
        return this.start(event.attributes.input);
      case 'WorkflowExecutionCancelRequested':
        return this.rootScope.cancel(new CancelledFailure('Workflow cancelled'));
      case 'WorkflowExecutionSignaled':
        return this.messages.deliverSignal(event.attributes.signalName, event.attributes.input);
      case 'TimerFired': {
        const { timerId } = event.attributes;
        // Cancelled earlier in this activation (by a signal handler, say) but fired already: the
        // engine has closed the timer, so the CancelTimer must not go out.
        this.unsend((c) => c.commandType === 'CancelTimer' && c.attributes.timerId === timerId);
        this.timers.get(Number(timerId))?.resolve(undefined);
        return;
      }
      case 'ActivityTaskCompleted':
        return this.settleActivity(event.attributes.scheduledEventId, (p) =>
          p.resolve(event.attributes.result),
        );
      case 'ActivityTaskFailed':
      case 'ActivityTaskTimedOut':
        return this.settleActivity(event.attributes.scheduledEventId, (p) =>
          p.reject(
            activityFailure(
              p.activityType,
              p.activityId,
              decodeFailure(event.attributes.failure),
              event.attributes.retryState,
            ),
          ),
        );
      case 'ActivityTaskCanceled':
        return this.settleActivity(event.attributes.scheduledEventId, (p) =>
          p.reject(
            activityFailure(
              p.activityType,
              p.activityId,
              new CancelledFailure('Activity cancelled', event.attributes.details ?? []),
              RetryState.CANCEL_REQUESTED,
            ),
          ),
        );
      case 'ChildWorkflowExecutionStarted':
        return this.withChild(event.attributes.initiatedEventId, false, (child) => {
          child.isStarted = true;
          child.runId = event.attributes.runId;
          child.started.resolve(event.attributes.runId);
        });
      case 'StartChildWorkflowExecutionFailed':
        return this.withChild(event.attributes.initiatedEventId, true, (child) => {
          const error = new WorkflowExecutionAlreadyStartedError(
            `Child workflow '${child.workflowId}' could not start: a workflow with this id is already running.`,
            child.workflowId,
            child.workflowType,
          );
          child.started.reject(error);
          child.result.reject(error);
        });
      case 'ChildWorkflowExecutionCompleted':
        return this.withChild(event.attributes.initiatedEventId, true, (child) =>
          child.result.resolve(event.attributes.result),
        );
      case 'ChildWorkflowExecutionFailed':
      case 'ChildWorkflowExecutionCanceled':
      case 'ChildWorkflowExecutionTimedOut':
      case 'ChildWorkflowExecutionTerminated': {
        const { initiatedEventId, runId } = event.attributes;
        const cause: KeelFailure =
          event.eventType === 'ChildWorkflowExecutionFailed'
            ? decodeFailure(event.attributes.failure)
            : event.eventType === 'ChildWorkflowExecutionCanceled'
              ? new CancelledFailure('Child workflow cancelled', event.attributes.details ?? [])
              : event.eventType === 'ChildWorkflowExecutionTimedOut'
                ? new TimeoutFailure(
                    'Child workflow timed out',
                    undefined,
                    TimeoutType.START_TO_CLOSE,
                  )
                : new TerminatedFailure(event.attributes.reason ?? 'Child workflow terminated');
        const retryState =
          'retryState' in event.attributes
            ? event.attributes.retryState
            : RetryState.NON_RETRYABLE_FAILURE;
        return this.withChild(initiatedEventId, true, (child) =>
          child.result.reject(
            new ChildWorkflowFailure(
              undefined,
              { workflowId: child.workflowId, runId },
              child.workflowType,
              retryState,
              cause,
            ),
          ),
        );
      }
      case 'ExternalWorkflowExecutionSignaled':
      case 'ExternalWorkflowExecutionCancelRequested':
        return this.settleExternal(event.attributes.initiatedEventId, (e) => e.resolve(undefined));
      case 'SignalExternalWorkflowExecutionFailed':
      case 'RequestCancelExternalWorkflowExecutionFailed':
        return this.settleExternal(event.attributes.initiatedEventId, (e) =>
          e.reject(
            // A failure, as in Temporal: left uncaught, it fails the run rather than its tasks.
            ApplicationFailure.nonRetryable(
              `Could not ${e.description}: no workflow '${event.attributes.workflowId}' is running.`,
              'ExternalWorkflowExecutionNotFound',
            ),
          ),
        );
      default:
        return;
    }
  }

  private settleActivity(
    scheduledEventId: number,
    settle: (pending: PendingActivity) => void,
  ): void {
    const seq = this.seqByEventId.activity.get(scheduledEventId);
    if (seq === undefined) return;
    const pending = this.activities.get(seq);
    this.activities.delete(seq);
    this.seqByEventId.activity.delete(scheduledEventId);
    if (!pending) return;
    // A cancel requested earlier in this activation for an activity that has closed already.
    this.unsend(
      (c) =>
        c.commandType === 'RequestCancelActivityTask' &&
        c.attributes.activityId === pending.activityId,
    );
    if (!pending.settled) settle(pending);
  }

  private withChild(
    initiatedEventId: number,
    final: boolean,
    act: (child: PendingChild) => void,
  ): void {
    const seq = this.seqByEventId.child.get(initiatedEventId);
    const child = seq === undefined ? undefined : this.children.get(seq);
    if (!child) return;
    if (final) {
      this.children.delete(seq!);
      this.seqByEventId.child.delete(initiatedEventId);
      if (child.settled) return;
      child.settled = true;
    }
    act(child);
  }

  private settleExternal(
    initiatedEventId: number,
    act: (external: Completion & { description: string }) => void,
  ): void {
    const seq = this.seqByEventId.external.get(initiatedEventId);
    const external = seq === undefined ? undefined : this.externals.get(seq);
    if (!external) return;
    this.externals.delete(seq!);
    this.seqByEventId.external.delete(initiatedEventId);
    act(external);
  }

  private start(args: unknown[]): void {
    const promise = this.run(() => {
      try {
        return this.workflow(...args);
      } catch (error) {
        return Promise.reject(error);
      }
    });
    promise.then(
      (result) => {
        try {
          assertPayload(result, `the result of workflow '${this.info.workflowType}'`);
        } catch (error) {
          return this.fail(error); // a bug, as a bad activity argument: the task fails, retried
        }
        this.complete({
          commandType: 'CompleteWorkflowExecution',
          attributes: result === undefined ? {} : { result },
        });
      },
      (error: unknown) => this.fail(error),
    );
  }

  private complete(command: Command): void {
    if (this.completed) return;
    if (this.messages.running > 0 && !this.isReplaying) {
      this.logger.log(
        'warn',
        `Workflow '${this.info.workflowId}' finished while ${this.messages.running} signal or update handler(s) were still running; await allHandlersFinished() before returning to let them finish.`,
        {
          workflowId: this.info.workflowId,
          runId: this.info.runId,
          workflowType: this.info.workflowType,
        },
      );
    }
    this.pushCommand(command);
    this.completed = true;
  }

  /**
   * Workflow code (or a message handler) threw. `continueAsNew()` continues the run; a `KeelFailure`
   * fails the run (cancellation after a cancel request cancels it); any other error is treated as a
   * bug: the workflow task fails and is retried, so that deploying a fix resumes the run.
   */
  fail(error: unknown): void {
    if (error instanceof ContinueAsNew) {
      const c = error.command;
      this.complete({
        commandType: 'ContinueAsNewWorkflowExecution',
        attributes: {
          ...c,
          workflowType: c.workflowType ?? this.info.workflowType,
          taskQueue: c.taskQueue ?? this.info.taskQueue,
        },
      });
    } else if (isCancellation(error) && this.rootScope.consideredCancelled) {
      this.complete({ commandType: 'CancelWorkflowExecution', attributes: {} });
    } else if (error instanceof KeelFailure) {
      this.complete({
        commandType: 'FailWorkflowExecution',
        attributes: { failure: encodeFailure(error) },
      });
    } else {
      this.workflowTaskError ??= error instanceof Error ? error : new Error(String(error));
    }
  }

  /** What the run waits on, with where each wait began: the `__stack_trace` query. */
  pending(): PendingSummary[] {
    const stack = (e: Error) => e.stack?.split('\n').slice(2).join('\n');
    return [
      ...[...this.activities.values()]
        .filter((a) => !a.settled)
        .map((a) => ({
          kind: 'activity',
          description: `activity ${a.activityType} (id ${a.activityId})`,
          stack: stack(a.createdAt),
        })),
      ...[...this.timers.entries()].map(([seq, t]) => ({
        kind: 'timer',
        description: `timer ${seq} (${t.ms} ms)`,
        stack: stack(t.createdAt),
      })),
      ...[...this.children.values()]
        .filter((c) => !c.settled)
        .map((c) => ({
          kind: 'child',
          description: `child workflow ${c.workflowType} (id ${c.workflowId})`,
          stack: stack(c.createdAt),
        })),
      ...[...this.conditions].map((c) => ({
        kind: 'condition',
        description: 'condition',
        stack: stack(c.createdAt),
      })),
      ...[...this.externals.values()].map((e) => ({
        kind: 'external',
        description: e.description,
      })),
    ];
  }
}

export const PATCH_MARKER = 'core_patch';

function isCancellation(error: unknown): boolean {
  return (
    error instanceof CancelledFailure ||
    ((error instanceof ActivityFailure || error instanceof ChildWorkflowFailure) &&
      error.cause instanceof CancelledFailure)
  );
}

function activityFailure(
  activityType: string,
  activityId: string,
  cause: KeelFailure,
  retryState: RetryState = RetryState.CANCEL_REQUESTED,
): ActivityFailure {
  const message =
    cause instanceof TimeoutFailure
      ? 'Activity task timed out'
      : cause instanceof CancelledFailure
        ? 'Activity task cancelled'
        : 'Activity task failed';
  return new ActivityFailure(message, activityType, activityId, retryState, undefined, cause);
}

import { toMs, type Duration } from './duration.ts';

/**
 * How an activity is retried after a failed attempt. Defaults and rules are Temporal's.
 *
 * @example
 * { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 5, nonRetryableErrorTypes: ['CardDeclined'] }
 */
export interface RetryPolicy {
  /** Delay before the first retry. @defaultValue `'1s'` */
  initialInterval?: Duration;
  /** Each retry waits this many times longer than the one before; at least 1. @defaultValue `2` */
  backoffCoefficient?: number;
  /** Upper bound of the delay between retries. @defaultValue 100 × `initialInterval` */
  maximumInterval?: Duration;
  /** Attempts in all, the first one included; 0 means unlimited. @defaultValue `0` (unlimited) */
  maximumAttempts?: number;
  /** `ApplicationFailure` types (or error names) that are never retried. @defaultValue `[]` */
  nonRetryableErrorTypes?: string[];
}

/** A retry policy with every default filled in and every duration in milliseconds, as stored. */
export interface CompiledRetryPolicy {
  initialInterval: number;
  backoffCoefficient: number;
  maximumInterval: number;
  maximumAttempts: number;
  nonRetryableErrorTypes: string[];
}

/** Applies Temporal's defaults and rules; throws a `TypeError` naming the bad field. */
export function compileRetryPolicy(policy: RetryPolicy = {}): CompiledRetryPolicy {
  const initialInterval = toMs(policy.initialInterval ?? 1000, 'retry.initialInterval');
  if (initialInterval <= 0)
    throw new TypeError('Invalid retry.initialInterval: it must be greater than 0.');
  const backoffCoefficient = policy.backoffCoefficient ?? 2;
  if (!Number.isFinite(backoffCoefficient) || backoffCoefficient < 1) {
    throw new TypeError(
      `Invalid retry.backoffCoefficient: ${backoffCoefficient}. It must be a number of at least 1.`,
    );
  }
  const maximumInterval = toMs(
    policy.maximumInterval ?? initialInterval * 100,
    'retry.maximumInterval',
  );
  if (maximumInterval < initialInterval) {
    throw new TypeError(
      `Invalid retry.maximumInterval: ${maximumInterval} ms is less than retry.initialInterval (${initialInterval} ms).`,
    );
  }
  const maximumAttempts = policy.maximumAttempts ?? 0;
  if (!Number.isInteger(maximumAttempts) || maximumAttempts < 0) {
    throw new TypeError(
      `Invalid retry.maximumAttempts: ${maximumAttempts}. Use a whole number; 0 means unlimited.`,
    );
  }
  const nonRetryableErrorTypes = policy.nonRetryableErrorTypes ?? [];
  if (
    !Array.isArray(nonRetryableErrorTypes) ||
    nonRetryableErrorTypes.some((t) => typeof t !== 'string')
  ) {
    throw new TypeError('Invalid retry.nonRetryableErrorTypes: expected an array of strings.');
  }
  return {
    initialInterval,
    backoffCoefficient,
    maximumInterval,
    maximumAttempts,
    nonRetryableErrorTypes,
  };
}

import ms from 'ms';

/**
 * A span of time: milliseconds as a number, or a string such as `'30s'`, `'5 minutes'`, `'1 day'`
 * (the format of the `ms` package, as in Temporal's SDK).
 */
export type Duration = number | string;

/**
 * Converts a {@link Duration} to milliseconds, or throws a `TypeError` that names the option and the
 * value that was wrong.
 *
 * @example
 * toMs('5 minutes') // 300000
 */
export function toMs(duration: Duration, what = 'duration'): number {
  if (typeof duration === 'number') {
    if (!Number.isFinite(duration) || duration < 0) {
      throw new TypeError(
        `Invalid ${what}: ${String(duration)}. Expected a non-negative number of milliseconds or a string like '30s', '5 minutes', '1 day'.`,
      );
    }
    return Math.round(duration);
  }
  if (typeof duration === 'string' && duration.trim() !== '') {
    // ms() returns undefined for strings it cannot parse; it also accepts negatives, which we refuse.
    const parsed = ms(duration as ms.StringValue) as number | undefined;
    if (typeof parsed === 'number' && Number.isFinite(parsed) && parsed >= 0)
      return Math.round(parsed);
  }
  throw new TypeError(
    `Invalid ${what}: ${JSON.stringify(duration)}. Expected a non-negative number of milliseconds or a string like '30s', '5 minutes', '1 day'.`,
  );
}

/** Like {@link toMs} but passes `undefined` through, for optional options. */
export function optionalMs(duration: Duration | undefined, what: string): number | undefined {
  return duration === undefined ? undefined : toMs(duration, what);
}

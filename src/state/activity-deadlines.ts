import type { ActivityTaskData } from './tasks.ts';
import { TimeoutType } from '../common/failure.ts';

/** The earliest of the given times, ignoring undefined ones. */
function earliest(...times: (number | undefined)[]): number | undefined {
  let min: number | undefined;
  for (const t of times) if (t !== undefined && (min === undefined || t < min)) min = t;
  return min;
}

export function scheduleToCloseDeadline(data: ActivityTaskData): number | undefined {
  return data.scheduleToCloseTimeout ? data.scheduledTime + data.scheduleToCloseTimeout : undefined;
}

/** When a waiting-to-be-claimed attempt times out: schedule-to-start (per attempt) or schedule-to-close. */
export function readyExpiry(data: ActivityTaskData): number | undefined {
  return earliest(
    data.scheduleToStartTimeout ? data.readyTime + data.scheduleToStartTimeout : undefined,
    scheduleToCloseDeadline(data),
  );
}

/** When a running attempt times out: start-to-close, heartbeat or schedule-to-close. */
export function runningExpiry(data: ActivityTaskData): number {
  const started = data.startedTime!;
  return earliest(
    started + data.startToCloseTimeout,
    data.heartbeatTimeout ? (data.lastHeartbeatTime ?? started) + data.heartbeatTimeout : undefined,
    scheduleToCloseDeadline(data),
  )!;
}

/** Which timeout fired for an activity whose deadline passed at `now`. */
export function firedTimeout(data: ActivityTaskData, now: number, running: boolean): TimeoutType {
  const s2c = scheduleToCloseDeadline(data);
  if (s2c !== undefined && now >= s2c) return TimeoutType.SCHEDULE_TO_CLOSE;
  if (!running) return TimeoutType.SCHEDULE_TO_START;
  const started = data.startedTime!;
  if (data.heartbeatTimeout && now >= (data.lastHeartbeatTime ?? started) + data.heartbeatTimeout) {
    // Start-to-close wins when both passed: it is the more useful message.
    if (now < started + data.startToCloseTimeout) return TimeoutType.HEARTBEAT;
  }
  return TimeoutType.START_TO_CLOSE;
}

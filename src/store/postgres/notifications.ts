/**
 * Hints between processes over LISTEN/NOTIFY, on two channels per schema, because processes want
 * different ones: workers wait for work (a task ready, a timer due), clients for runs (closed,
 * updated, a query answered). On one channel, every worker process would wake for the runs that
 * any worker closes, only to drop the hints, and clients for every task made ready: wake-ups that
 * grow with the number of processes.
 */
import { createHash } from 'node:crypto';
import type { StoreHint } from '../store.ts';

/** A NOTIFY: `payload` on `channel`. */
export interface Notification {
  channel: string;
  payload: string;
}

/** A schema's two channels: hints about work, hints about runs. */
export interface HintChannels {
  work: string;
  runs: string;
}

/** Which hints a process hears: all of them, those about work (workers), or about runs (clients). */
export type HintAudience = 'all' | 'work' | 'runs';

/** NOTIFY payloads must be shorter than 8000 bytes (PostgreSQL's default limit), with room to spare. */
export const MAX_NOTIFY_PAYLOAD = 7900;

/**
 * A schema's two channels. Channels are per database, not per schema: processes of other schemas
 * in the same database (another deployment, a parallel test) must not wake this one's. Channel
 * names are identifiers (at most 63 bytes): a long schema name goes by its hash.
 */
export function hintChannels(schema: string): HintChannels {
  const fits = Buffer.byteLength(`keel_hints_${schema}`) <= 63;
  const name = fits ? schema : createHash('sha256').update(schema).digest('hex').slice(0, 40);
  return { work: `keel_hints_${name}`, runs: `keel_runs_${name}` };
}

/** The channels a process with `audience` listens on. */
export function channelsFor(channels: HintChannels, audience: HintAudience): string[] {
  if (audience === 'all') return [channels.work, channels.runs];
  if (audience === 'work' || audience === 'runs') return [channels[audience]];
  throw new TypeError(
    `Invalid hints option: ${JSON.stringify(audience)}; expected 'all', 'work' (a process that only runs workers) or 'runs' (one that only runs clients).`,
  );
}

/** Hints about work; those about runs go on the other channel. */
function isAboutWork(hint: StoreHint): boolean {
  return hint.type === 'task-ready' || hint.type === 'expiry';
}

/**
 * The NOTIFYs announcing `hints` from the process `origin`: one per channel that has any. Each
 * payload stays under `MAX_NOTIFY_PAYLOAD` bytes: a big batch sends its run-closed hints without
 * their outcomes (their waiters read them instead), a bigger one says "anything changed".
 */
export function notificationsOf(
  hints: StoreHint[],
  channels: HintChannels,
  origin: string,
): Notification[] {
  // 'external-change' (anything may have happened) is not about work alone: it goes on both.
  const work = hints.filter((hint) => isAboutWork(hint) || hint.type === 'external-change');
  const runs = hints.filter((hint) => !isAboutWork(hint));
  const notifications: Notification[] = [];
  if (work.length > 0)
    notifications.push({ channel: channels.work, payload: fitted(work, origin) });
  if (runs.length > 0)
    notifications.push({ channel: channels.runs, payload: fitted(runs, origin) });
  return notifications;
}

function fitted(hints: StoreHint[], origin: string): string {
  const payload = (sent: StoreHint[]) => JSON.stringify({ origin, hints: sent });
  let text = payload(hints);
  const tooBig = () => Buffer.byteLength(text) >= MAX_NOTIFY_PAYLOAD;
  if (tooBig())
    text = payload(hints.map((h) => (h.type === 'run-closed' ? { ...h, outcome: undefined } : h)));
  if (tooBig()) text = payload([{ type: 'external-change' }]);
  return text;
}

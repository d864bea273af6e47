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
 * The NOTIFYs announcing `hints` from the process `origin`: on each channel that has any, as few as
 * hold them with every payload under `MAX_NOTIFY_PAYLOAD` bytes, in order. A run-closed hint whose
 * outcome alone would not fit goes without it (its waiters read it instead). Splitting, rather than
 * dropping the outcomes of a big batch, spares a read per run: a batch that closed 20 runs of W3
 * was over the limit, and clients read 58% of outcomes back.
 */
export function notificationsOf(
  hints: StoreHint[],
  channels: HintChannels,
  origin: string,
): Notification[] {
  // 'external-change' (anything may have happened) is not about work alone: it goes on both.
  const work = hints.filter((hint) => isAboutWork(hint) || hint.type === 'external-change');
  const runs = hints.filter((hint) => !isAboutWork(hint));
  return [
    ...payloadsOf(work, origin).map((payload) => ({ channel: channels.work, payload })),
    ...payloadsOf(runs, origin).map((payload) => ({ channel: channels.runs, payload })),
  ];
}

/**
 * `{ origin, hints }` payloads holding `hints` in order (each hint once), each shorter than
 * `MAX_NOTIFY_PAYLOAD` bytes.
 */
function payloadsOf(hints: StoreHint[], origin: string): string[] {
  const head = `{"origin":${asciiJson(origin)},"hints":[`;
  const tail = ']}';
  const room = MAX_NOTIFY_PAYLOAD - 1 - head.length - tail.length;
  const payloads: string[] = [];
  // A batch that readies many tasks of one queue makes as many identical hints: one says it.
  const seen = new Set<string>();
  let held: string[] = [];
  let heldBytes = 0;
  for (const hint of hints) {
    const json = fittedHint(hint, room);
    if (seen.has(json)) continue;
    seen.add(json);
    const size = json.length;
    if (held.length > 0 && heldBytes + 1 + size > room) {
      payloads.push(head + held.join(',') + tail);
      held = [];
      heldBytes = 0;
    }
    heldBytes += (held.length > 0 ? 1 : 0) + size; // and its comma
    held.push(json);
  }
  if (held.length > 0) payloads.push(head + held.join(',') + tail);
  return payloads;
}

/** The JSON of `hint` in at most `room` bytes: without its outcome if need be, else "anything changed". */
function fittedHint(hint: StoreHint, room: number): string {
  const json = asciiJson(hint);
  if (json.length <= room) return json;
  if (hint.type === 'run-closed') {
    const bare = asciiJson({ ...hint, outcome: undefined });
    if (bare.length <= room) return bare;
  }
  return asciiJson({ type: 'external-change' });
}

/**
 * JSON with every character beyond ASCII escaped (`\u00e9`): one byte per character in any
 * server encoding, so that a payload's length in characters is the length PostgreSQL checks.
 */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

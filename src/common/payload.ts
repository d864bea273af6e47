/**
 * Keel stores arguments, results and details as JSON. Values that JSON would silently change
 * (functions, `Map`, `Set`, `NaN`) or cannot encode (`BigInt`, cycles) are refused where the user
 * passes them, with the path to the bad part, rather than corrupting the history later.
 */

/** Payloads above this size are refused: a history event that large slows every replay. */
export const MAX_PAYLOAD_BYTES = 2 * 1024 * 1024;

/** A value that cannot be stored as a Keel payload. */
export class PayloadError extends TypeError {
  override name = 'PayloadError';
}

/**
 * Throws a {@link PayloadError} naming `what` and the path of the offending part if `value` cannot
 * round-trip through JSON, or if it is larger than {@link MAX_PAYLOAD_BYTES}.
 */
export function assertPayload(value: unknown, what: string): void {
  const bytes = measure(value, what, '', new Set());
  if (bytes > MAX_PAYLOAD_BYTES) {
    throw new PayloadError(
      `${what} is too large: about ${bytes} bytes, above the limit of ${MAX_PAYLOAD_BYTES}. Store large data elsewhere (a file, an object store) and pass a reference.`,
    );
  }
}

function measure(value: unknown, what: string, path: string, seen: Set<object>): number {
  switch (typeof value) {
    case 'string':
      if (!isWellFormed(value)) fail(what, path, `a string with ${LONE_SURROGATE}`);
      return value.length + 2;
    case 'boolean':
      return 5;
    case 'undefined':
      return 4;
    case 'number':
      if (!Number.isFinite(value))
        fail(what, path, `the number ${String(value)}, which JSON cannot hold`);
      return 8;
    case 'bigint':
      fail(what, path, 'a BigInt; pass it as a string');
      break;
    case 'function':
      fail(what, path, 'a function; only data can be stored');
      break;
    case 'symbol':
      fail(what, path, 'a symbol; only data can be stored');
      break;
    case 'object': {
      if (value === null) return 4;
      if (seen.has(value)) fail(what, path, 'a circular reference');
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return 32; // Date and friends
      if (
        value instanceof Map ||
        value instanceof Set ||
        value instanceof WeakMap ||
        value instanceof WeakSet
      ) {
        fail(
          what,
          path,
          `a ${value.constructor.name}, which JSON would turn into {}; pass an array or a plain object`,
        );
      }
      seen.add(value);
      let size = 2;
      if (Array.isArray(value)) {
        value.forEach(
          (item, index) => (size += measure(item, what, `${path}[${index}]`, seen) + 1),
        );
      } else {
        for (const [key, item] of Object.entries(value)) {
          if (item === undefined) continue;
          const at = path === '' ? key : `${path}.${key}`;
          if (!isWellFormed(key)) fail(what, at, `a key with ${LONE_SURROGATE}`);
          size += key.length + 4 + measure(item, what, at, seen);
        }
      }
      seen.delete(value);
      return size;
    }
  }
  return 0;
}

/**
 * Half of a UTF-16 surrogate pair alone (a string cut in the middle of an emoji, say) has no UTF-8
 * encoding: PostgreSQL refuses it in JSON, and Temporal's converters turn it into U+FFFD.
 */
const LONE_SURROGATE =
  'half of a UTF-16 surrogate pair, which has no UTF-8 encoding; pass str.toWellFormed() (it becomes U+FFFD) or cut strings between code points';

export function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** Throws a TypeError naming `what` if `text` (an id, a name) holds half of a surrogate pair. */
export function assertWellFormedText(text: string, what: string): void {
  if (!isWellFormed(text))
    throw new TypeError(`${what} ${JSON.stringify(text)} holds ${LONE_SURROGATE}.`);
}

/** `text` with each half of a surrogate pair alone replaced by U+FFFD, as UTF-8 encoding does. */
export function toWellFormed(text: string): string {
  return (text as string & { toWellFormed(): string }).toWellFormed();
}

function fail(what: string, path: string, problem: string): never {
  throw new PayloadError(
    `Cannot serialise ${what}: ${path === '' ? 'it' : `'${path}'`} is ${problem}.`,
  );
}

/** A deep copy through JSON, so that a receiver sees exactly what a replay from the database would. */
export function roundTrip<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

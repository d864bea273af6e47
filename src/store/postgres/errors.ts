/**
 * Which PostgreSQL errors are transient: worth retrying the whole transaction (connection lost or
 * reset, server restarting, serialization failure, deadlock or lock timeout, or the race of two starts of one
 * workflow id, which a retry turns into the proper "already started" error). Nothing else is retried.
 */
const TRANSIENT_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available: our own lock_timeout, which stands in for deadlock detection
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '57P05', // idle_session_timeout: the server ended the session (nothing of it was committed)
  '25P03', // idle_in_transaction_session_timeout: the server ended the session and rolled back
  '53300', // too_many_connections
]);

const TRANSIENT_NODE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTCONN',
]);

export function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, constraint } = error as Error & { code?: string; constraint?: string };
  if (
    code &&
    (TRANSIENT_SQLSTATES.has(code) || code.startsWith('08') || TRANSIENT_NODE_CODES.has(code))
  )
    return true;
  if (code === '23505' && constraint === 'executions_running_workflow_id') return true;
  return /Connection terminated|connection.*(closed|ended)|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(
    error.message,
  );
}

/**
 * `keel_expect_rows` (migration 0003) found a row changed since this process wrote it: what the
 * process knew of it is forgotten, and the transaction runs again, reading it.
 */
export function isStaleKnownRow(error: unknown): boolean {
  return error instanceof Error && (error as Error & { code?: string }).code === 'KL001';
}

/** True if the error means the connection itself is unusable (it must not go back to the pool). */
export function breaksConnection(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as Error & { code?: string }).code;
  return (
    (code !== undefined &&
      (code.startsWith('08') ||
        code.startsWith('57P') ||
        code === '25P03' ||
        TRANSIENT_NODE_CODES.has(code))) ||
    /Connection terminated|connection.*(closed|ended)|connection error/i.test(error.message)
  );
}

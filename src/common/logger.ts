import type { LogLevel, WorkflowLogger } from '../runtime/workflow-info.ts';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * The default logger: one line per entry on stderr/stdout, attributes as JSON.
 * `KEEL_LOG_LEVEL` (debug, info, warn, error) sets the threshold; info by default.
 */
export function consoleLogger(
  minLevel: LogLevel = (process.env.KEEL_LOG_LEVEL as LogLevel | undefined) ?? 'info',
): WorkflowLogger {
  const threshold = LEVELS[minLevel] ?? LEVELS.info;
  return {
    log(level, message, attributes) {
      if (LEVELS[level] < threshold) return;
      const suffix =
        attributes && Object.keys(attributes).length > 0 ? ` ${JSON.stringify(attributes)}` : '';
      const line = `${new Date().toISOString()} ${level.toUpperCase()} ${message}${suffix}`;
      if (level === 'error' || level === 'warn') console.error(line);
      else console.log(line);
    },
  };
}

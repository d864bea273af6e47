import type { HistoryEvent } from '../state/events.ts';

/** Left-aligned columns separated by two spaces. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** One line per event: id, time, type, attributes. */
export function formatEvent(event: HistoryEvent): string {
  const attributes = JSON.stringify(event.attributes);
  return `${String(event.eventId).padStart(4)}  ${new Date(event.eventTime).toISOString()}  ${event.eventType.padEnd(32)}  ${
    attributes.length > 160 ? `${attributes.slice(0, 157)}...` : attributes
  }`;
}

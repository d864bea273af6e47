import { InvalidArgumentError, Option, type Command } from 'commander';
import { Client } from '../client/client.ts';

export const dbOption = () =>
  new Option(
    '--db <connection>',
    'Keel database: a SQLite file path, or postgres://user@host/db?schema=keel',
  )
    .env('KEEL_DB')
    .default('./keel.db');

/** Opens a client on the command's `--db`, runs `fn`, closes it. */
export async function withClient<T>(
  command: Command,
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  const { db } = command.optsWithGlobals<{ db: string }>();
  const client = new Client({ connection: db });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Parses a whole number option, with an error that names the option. */
export function positiveInt(name: string): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${name} must be a whole number of at least 1.`);
    return n;
  };
}

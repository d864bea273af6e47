/** Both stores' schema migrations: numbered plain-SQL files (`0001_initial.sql`) in a folder. */
import { readdirSync, readFileSync } from 'node:fs';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The migrations in `dir` (a folder URL), in version order. */
export function readMigrations(dir: URL): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_.+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file,
      sql: readFileSync(new URL(file, dir), 'utf8'),
    }));
}

import type { Command } from 'commander';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { LATEST_SCHEMA_VERSION } from '../store/sqlite/migrations.ts';
import { dbOption } from './options.ts';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('Create the database or bring its schema up to date (Keel also does this on open)')
    .addOption(dbOption())
    .action(async (options: { db: string }) => {
      const store = SqliteStore.open(options.db);
      await store.close();
      console.log(`${options.db} is at Keel schema version ${LATEST_SCHEMA_VERSION}.`);
    });
}

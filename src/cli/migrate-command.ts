import type { Command } from 'commander';
import { openStore } from '../store/open-store.ts';
import { dbOption } from './options.ts';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description(
      'Create the database (or PostgreSQL schema) or bring it up to date; Keel also does this on first use',
    )
    .addOption(dbOption())
    .action(async (options: { db: string }) => {
      const store = openStore(options.db);
      try {
        await store.nextExpiry(); // the first use applies the migrations (under a lock on PostgreSQL)
      } finally {
        await store.close();
      }
      console.log(`${store.location} is up to date.`);
    });
}

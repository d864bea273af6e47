#!/usr/bin/env node
/**
 * The `keel` command line: inspect and steer workflows in a Keel database.
 * `keel --help` lists the commands; every command takes `--db <path>` (default ./keel.db or $KEEL_DB).
 */
import { Command, CommanderError } from 'commander';
import { registerWorkflowCommands } from './workflow-commands.ts';
import { registerMigrateCommand } from './migrate-command.ts';

// `keel workflow show x | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const program = new Command('keel')
  .description(
    'Keel: durable workflows for TypeScript. Inspect and steer workflows stored in a Keel database.',
  )
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerWorkflowCommands(program);
registerMigrateCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander already printed the message; usage errors exit with 2, help/version with 0.
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    // Errors from Keel say what is wrong; the stack is for bug reports (KEEL_DEBUG=1).
    console.error(`keel: ${(error as Error)?.message ?? String(error)}`);
    if (process.env.KEEL_DEBUG && error instanceof Error && error.stack) console.error(error.stack);
    process.exitCode = 1;
  }
}

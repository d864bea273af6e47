/** Real child processes for crash tests: spawn a TypeScript script, wait for its output, SIGKILL it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export interface NodeProcess {
  child: ChildProcess;
  /** Resolves when a line of stdout matches; rejects if the process exits first or after `timeoutMs`. */
  waitForLine(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** SIGKILL, and wait until the process is gone. */
  kill(): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
}

/** Runs `script` (a path relative to `from`, a module URL) with tsx and the keel-source condition. */
export function spawnNode(
  from: string,
  script: string,
  args: string[] = [],
  env: Record<string, string> = {},
): NodeProcess {
  const path = fileURLToPath(new URL(script, from));
  const child = spawn(
    process.execPath,
    ['--conditions=keel-source', '--import', 'tsx', path, ...args],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const listener of listeners) listener();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
    if (process.env.KEEL_TEST_LOGS) process.stderr.write(chunk);
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return {
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    waitForLine(pattern, timeoutMs = 20_000) {
      const matches = () =>
        out
          .split('\n')
          .find((line) =>
            typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line),
          );
      return new Promise<string>((resolve, reject) => {
        const check = () => {
          const line = matches();
          if (line !== undefined) {
            done();
            resolve(line);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `no line matching ${String(pattern)} within ${timeoutMs} ms; stdout: ${out}; stderr: ${err}`,
            ),
          );
        }, timeoutMs);
        const onExit = () => {
          done();
          reject(
            new Error(
              `process exited before printing ${String(pattern)}; stdout: ${out}; stderr: ${err}`,
            ),
          );
        };
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
        };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs` with `what`. */
export async function eventually<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

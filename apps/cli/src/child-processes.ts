import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A Rekey process the demo started, with its log file. */
export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Settles when the process has exited, with its exit code. */
  readonly exited: Promise<number | null>;
}

/**
 * Starts `node script` with `env`, its output appended to
 * `logDir/<name>.log`.
 */
export function startProcess(options: {
  readonly name: string;
  readonly script: string;
  readonly env: NodeJS.ProcessEnv;
  readonly logDir: string;
}): ManagedProcess {
  const logFile = join(options.logDir, `${options.name}.log`);
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, [options.script], {
    env: options.env,
    stdio: ['ignore', out, out],
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });

  return { name: options.name, child, logFile, exited };
}

/**
 * Sends SIGTERM and waits for the exit, then SIGKILL after
 * `graceMillis`.
 *
 * @returns the exit code, or null when the process had to be killed
 */
export async function stopProcess(
  process: ManagedProcess,
  graceMillis: number,
): Promise<number | null> {
  if (process.child.exitCode !== null) return process.child.exitCode;

  process.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<null>((resolve) => {
    timer = setTimeout(() => {
      process.child.kill('SIGKILL');
      resolve(null);
    }, graceMillis);
  });
  const code = await Promise.race([process.exited, killed]);
  clearTimeout(timer);

  return code;
}

/** The last lines of a process's log, to show when it failed. */
export function logTail(process: ManagedProcess, lines = 5): string {
  try {
    return readFileSync(process.logFile, 'utf8')
      .trimEnd()
      .split('\n')
      .slice(-lines)
      .join('\n');
  } catch {
    return '(no log)';
  }
}

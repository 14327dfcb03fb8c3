import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const workerScript = fileURLToPath(
  new URL('../../apps/worker/dist/main.js', import.meta.url),
);

/** A worker process started by a test, with every line it printed. */
export interface WorkerProcess extends AsyncDisposable {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Standard output and standard error, line by line. */
  readonly lines: string[];
  /** Settles with the exit code (null when killed by a signal). */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  /** Resolves once a line matching `pattern` was printed. */
  waitForLine(pattern: RegExp, timeoutMillis?: number): Promise<string>;
  /** SIGTERM, then the exit. */
  stop(): Promise<{ code: number | null; signal: string | null }>;
  /** SIGKILL, then the exit. */
  kill(): Promise<{ code: number | null; signal: string | null }>;
}

/**
 * Starts the real worker (`apps/worker/dist/main.js`, built by `pnpm
 * build`) with `env` as its whole environment.
 */
export function startWorker(env: NodeJS.ProcessEnv): WorkerProcess {
  const child = spawn(process.execPath, [workerScript], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const collect = (stream: NodeJS.ReadableStream) => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      lines.push(...parts.filter((l) => l.length > 0));
      for (const wake of waiters) wake();
    });
  };
  collect(child.stdout!);
  collect(child.stderr!);

  const exited = new Promise<{ code: number | null; signal: string | null }>(
    (resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  const waitForLine = (pattern: RegExp, timeoutMillis = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = lines.find((l) => pattern.test(l));
        if (!line) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(line);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(
            `worker printed no line matching ${pattern} within ${timeoutMillis} ms; last lines:\n${lines.slice(-10).join('\n')}`,
          ),
        );
      }, timeoutMillis);
      waiters.add(check);
      check();
    });

  const signal = (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);

    return exited;
  };

  return {
    child,
    pid: child.pid ?? -1,
    lines,
    exited,
    waitForLine,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    [Symbol.asyncDispose]: async () => {
      await signal('SIGKILL');
    },
  };
}

/** The JSON log lines of a worker whose `msg` is `message`. */
export function logLines(
  worker: Pick<WorkerProcess, 'lines'>,
  message: string,
): Array<Record<string, unknown>> {
  return worker.lines
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === message);
}

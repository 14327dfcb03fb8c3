import cliProgress from 'cli-progress';

/** A progress bar on standard error: rows done and total, rows/s, ETA. */
export interface RowProgress {
  update(done: number, total?: number): void;
  stop(): void;
}

/**
 * A bar for a long command, or a no-op when `enabled` is false or standard
 * error is not a terminal.
 */
export function rowProgress(label: string, enabled: boolean): RowProgress {
  if (!enabled || !process.stderr.isTTY) {
    return { update: () => undefined, stop: () => undefined };
  }

  const bar = new cliProgress.SingleBar(
    {
      format: `${label} |{bar}| {percentage}% | {value}/{total} rows | {speed} rows/s | ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  let running = false;

  return {
    update(done, total) {
      const seconds = (performance.now() - started) / 1000;
      const speed = seconds > 0 ? Math.round(done / seconds) : 0;
      if (!running) {
        bar.start(total ?? done, done, { speed });
        running = true;
      }
      if (total !== undefined) bar.setTotal(total);
      bar.update(done, { speed });
    },
    stop() {
      if (running) bar.stop();
    },
  };
}

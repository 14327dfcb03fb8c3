/** A step that failed while a {@link CleanupSteps} ran. */
export interface CleanupFailure {
  readonly name: string;
  readonly error: unknown;
}

/**
 * An ordered list of shutdown steps: stop taking requests, then close the
 * clients. Steps run in the order they were added. Every step runs even
 * when an earlier one failed; the failures are returned, not thrown, so
 * the caller can log each one. Running the list again returns the first
 * run's outcome without running any step twice.
 */
export class CleanupSteps {
  readonly #steps: Array<{ name: string; run: () => unknown }> = [];
  #running: Promise<readonly CleanupFailure[]> | undefined;

  /**
   * Appends a step.
   *
   * @param name - a short name for logs: `http server`, `queues`
   * @param run - closes one thing; may return a promise
   * @returns this list
   */
  add(name: string, run: () => unknown): this {
    this.#steps.push({ name, run });

    return this;
  }

  /**
   * Runs the steps once, in order.
   *
   * @returns the steps that failed, with their errors
   */
  run(): Promise<readonly CleanupFailure[]> {
    this.#running ??= this.#runAll();

    return this.#running;
  }

  async #runAll(): Promise<readonly CleanupFailure[]> {
    const failures: CleanupFailure[] = [];
    for (const step of this.#steps) {
      try {
        await step.run();
      } catch (error) {
        failures.push({ name: step.name, error });
      }
    }

    return failures;
  }
}

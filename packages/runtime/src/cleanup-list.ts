/** One step of a {@link CleanupList}. */
export interface CleanupStep {
  readonly name: string;
  readonly run: () => Promise<void> | void;
}

/** A step that failed while the list ran. */
export interface CleanupFailure {
  readonly name: string;
  readonly error: unknown;
}

/**
 * An ordered list of shutdown steps: stop taking work, let in-flight work
 * end, then close clients. Every step runs even when an earlier one fails,
 * and running the list twice runs it once.
 */
export class CleanupList {
  readonly #steps: CleanupStep[] = [];
  #running: Promise<CleanupFailure[]> | undefined;

  /** Appends a step; steps run in the order they were added. */
  add(name: string, run: CleanupStep['run']): this {
    this.#steps.push({ name, run });

    return this;
  }

  /** Runs every step once, in order, and returns the ones that failed. */
  run(): Promise<CleanupFailure[]> {
    this.#running ??= this.#runSteps();

    return this.#running;
  }

  async #runSteps(): Promise<CleanupFailure[]> {
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

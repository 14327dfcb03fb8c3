import {
  CleanupList,
  loadRuntimeConfig,
  type RuntimeConfig,
} from '@rekey/runtime';

import { readDevEnvironment, withDevEnvironment } from './dev-environment.js';

/** What every command gets. */
export interface CliContext {
  /** The environment, with the development HSM's variables if one exists. */
  readonly env: NodeJS.ProcessEnv;
  readonly config: RuntimeConfig;
  /** Closes what a command opened, when it ends. */
  readonly cleanup: CleanupList;
}

/**
 * Builds the context from the process environment. Variables of a
 * development HSM (`.rekey/dev.env`) fill in what the environment leaves
 * unset; they are also put in `process.env`, because the PKCS#11 module
 * reads its own configuration from there.
 */
export function createCliContext(): CliContext {
  const env = withDevEnvironment(process.env, readDevEnvironment());
  if (env.SOFTHSM2_CONF) process.env.SOFTHSM2_CONF = env.SOFTHSM2_CONF;

  return { env, config: loadRuntimeConfig(env), cleanup: new CleanupList() };
}

/** Writes one line of a command's output. */
export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * A development HSM for trying Rekey on one machine: a SoftHSM2 token
 * directory and randomly drawn PINs under `.rekey/` in the working
 * directory. Nothing here is for production, where the token exists
 * already and its PIN comes from the environment.
 */
export interface DevEnvironment {
  readonly dir: string;
  /** Variables to set for Rekey's processes; never printed. */
  readonly env: Readonly<Record<string, string>>;
}

const envFile = 'dev.env';

/**
 * The variables of the development environment, if `rekey hsm init --dev`
 * or `rekey demo` made one in `dir`.
 */
export function readDevEnvironment(
  dir = defaultDir(),
): DevEnvironment | undefined {
  const file = join(dir, envFile);
  if (!existsSync(file)) return undefined;

  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match?.[1] && match[2] !== undefined) env[match[1]] = match[2];
  }

  return { dir, env };
}

/**
 * Makes the development environment unless it exists: a SoftHSM2
 * configuration whose token directory is `dir/tokens`, and a `dev.env` file
 * (mode 0600) naming it with fresh random PINs.
 */
export function ensureDevEnvironment(dir = defaultDir()): DevEnvironment {
  const existing = readDevEnvironment(dir);
  if (existing) return existing;

  const tokens = join(dir, 'tokens');
  mkdirSync(tokens, { recursive: true, mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  );
  const env = {
    SOFTHSM2_CONF: conf,
    REKEY_HSM_TOKEN_LABEL: 'rekey-dev',
    REKEY_HSM_PIN: randomPin(),
    REKEY_HSM_SO_PIN: randomPin(),
  };
  writeFileSync(
    join(dir, envFile),
    '# Development HSM made by `rekey`; not for production.\n' +
      Object.entries(env)
        .map(([name, value]) => `${name}=${value}`)
        .join('\n') +
      '\n',
    { mode: 0o600 },
  );

  return { dir, env };
}

/**
 * The environment with the development variables filled in where the
 * environment does not set them itself.
 */
export function withDevEnvironment(
  env: NodeJS.ProcessEnv,
  dev: DevEnvironment | undefined,
): NodeJS.ProcessEnv {
  if (!dev) return env;

  const merged: NodeJS.ProcessEnv = { ...env };
  for (const [name, value] of Object.entries(dev.env)) {
    if (!merged[name]) merged[name] = value;
  }

  return merged;
}

function defaultDir(): string {
  return resolve(process.env.REKEY_DEV_DIR ?? '.rekey');
}

function randomPin(): string {
  return Array.from({ length: 12 }, () => randomInt(10)).join('');
}

import { RekeyError, type WrapMechanism } from '@rekey/core';

import {
  type WrapMechanismSpec,
  wrapMechanismSpec,
} from './wrap-mechanisms.js';

/** Options of {@link Pkcs11Hsm.open}. */
export interface Pkcs11HsmOptions {
  /** Path of the PKCS#11 library, such as SoftHSM2's `libsofthsm2.so`. */
  readonly modulePath: string;
  /** Label of the token that holds the master keys. */
  readonly tokenLabel: string;
  /**
   * The token's user PIN. The adapter keeps it in a private field to log in
   * again after the HSM drops its sessions, and never puts it in an error.
   */
  readonly pin: string;
  /**
   * The mechanism new keys are wrapped with. Each {@link WrappedKey} names
   * its own mechanism and is unwrapped with that one, so changing this later
   * keeps older wraps readable.
   *
   * @defaultValue `'aes-key-wrap-pad'` (RFC 5649, CKM_AES_KEY_WRAP_PAD)
   */
  readonly wrapMechanism?: WrapMechanism;
  /**
   * The most PKCS#11 sessions open at once, which bounds how many HSM
   * operations run concurrently; one more session holds the unwrapped KEKs.
   * pkcs11js runs its async calls on the libuv thread pool (4 threads by
   * default), so more sessions than threads gain nothing.
   *
   * @defaultValue `4`
   */
  readonly maxSessions?: number;
}

/** The defaults of {@link Pkcs11HsmOptions}. */
export const pkcs11HsmDefaults = Object.freeze({
  wrapMechanism: 'aes-key-wrap-pad' as WrapMechanism,
  maxSessions: 4,
});

/** Checked options, without the PIN. @internal */
export interface ResolvedPkcs11HsmOptions {
  readonly modulePath: string;
  readonly tokenLabel: string;
  readonly wrap: WrapMechanismSpec;
  readonly maxSessions: number;
}

/** The most sessions an adapter may be configured with. */
const maxSessionsLimit = 64;

/**
 * Checks options once and fills in defaults.
 *
 * @param options - as given to {@link Pkcs11Hsm.open}
 * @returns the frozen options, and the PIN apart from them
 * @throws RekeyError `REKEY_CONFIG_INVALID` naming the bad option (never
 *   its value when it is the PIN); `REKEY_HSM_MECHANISM_UNSUPPORTED` for a
 *   wrap mechanism Rekey does not know
 * @internal
 */
export function resolvePkcs11HsmOptions(options: Pkcs11HsmOptions): {
  readonly config: ResolvedPkcs11HsmOptions;
  readonly pin: string;
} {
  requireText(options.modulePath, 'modulePath');
  requireText(options.tokenLabel, 'tokenLabel');
  if (typeof options.pin !== 'string' || options.pin.length === 0) {
    throw new RekeyError(
      'REKEY_CONFIG_INVALID',
      'the HSM user PIN is missing: configure the PIN of the token',
      { details: { option: 'pin' } },
    );
  }

  const maxSessions = options.maxSessions ?? pkcs11HsmDefaults.maxSessions;
  if (
    !Number.isInteger(maxSessions) ||
    maxSessions < 1 ||
    maxSessions > maxSessionsLimit
  ) {
    throw new RekeyError(
      'REKEY_CONFIG_INVALID',
      `maxSessions must be a whole number from 1 to ${maxSessionsLimit}, got ${String(maxSessions)}`,
      { details: { option: 'maxSessions' } },
    );
  }

  const config = Object.freeze({
    modulePath: options.modulePath,
    tokenLabel: options.tokenLabel,
    wrap: wrapMechanismSpec(
      options.wrapMechanism ?? pkcs11HsmDefaults.wrapMechanism,
    ),
    maxSessions,
  });

  return { config, pin: options.pin };
}

function requireText(value: unknown, option: string): void {
  if (typeof value === 'string' && value.trim() !== '') return;

  throw new RekeyError(
    'REKEY_CONFIG_INVALID',
    `the HSM option ${option} is missing or empty: configure it`,
    { details: { option } },
  );
}

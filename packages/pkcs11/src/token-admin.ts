import { RekeyError } from '@rekey/core';
import pkcs11js from 'pkcs11js';

import { masterKeyTemplate } from './key-templates.js';
import { findMasterKey } from './master-key.js';
import {
  hasReturnCode,
  pkcs11Call,
  pkcs11CallSync,
  translatePkcs11Error,
} from './pkcs11-errors.js';
import type { Pkcs11Handle, Pkcs11Module } from './pkcs11-module.js';
import { acquirePkcs11Module } from './pkcs11-module-registry.js';
import {
  findToken,
  listTokens,
  paddedTokenLabel,
  requireTokenSlot,
} from './token-slots.js';
import {
  aesKeyGenRequirement,
  inspectMechanism,
  type MechanismReport,
  wrapMechanismSpecs,
  wrapRequirement,
} from './wrap-mechanisms.js';

/**
 * Token set-up for development and first installation: make the token, make
 * the master key on it, and tell which mechanisms it offers. Each call loads
 * (or shares) the module and gives it back before returning.
 */

/** Options of {@link initTokenIfAbsent}. */
export interface InitTokenOptions {
  /** Path of the PKCS#11 library. */
  readonly modulePath: string;
  /** The new token's label: 1 to 32 bytes, no trailing blanks. */
  readonly label: string;
  /** The security officer PIN to give the new token. */
  readonly soPin: string;
  /** The user PIN to give the new token. */
  readonly pin: string;
}

/** Options of {@link ensureMasterKey}. */
export interface EnsureMasterKeyOptions {
  /** Path of the PKCS#11 library. */
  readonly modulePath: string;
  /** Label of the token to make the key on. */
  readonly tokenLabel: string;
  /** The token's user PIN. */
  readonly pin: string;
  /** The master key's CKA_LABEL. */
  readonly label: string;
}

/** Options of {@link describeMechanisms}. */
export interface DescribeMechanismsOptions {
  /** Path of the PKCS#11 library. */
  readonly modulePath: string;
  /** Label of the token to ask. */
  readonly tokenLabel: string;
}

/**
 * Initialises a token with this label in a free slot, and its user PIN,
 * unless a token with the label exists. A token that exists without a user
 * PIN (an earlier run stopped half-way) gets its user PIN set.
 *
 * Known shortcoming: two processes running this at once for one label can
 * each take a free slot; PKCS#11 offers no lock to prevent it. Run it from
 * one process.
 *
 * @param options - module, label and PINs
 * @returns whether a token was initialised
 * @throws RekeyError `REKEY_CONFIG_INVALID` for a bad label or empty PIN,
 *   `REKEY_HSM_TOKEN_NOT_FOUND` when no free slot is left, or a code
 *   translated from the HSM (`REKEY_HSM_PIN_INCORRECT` for a PIN the token
 *   refuses, among others)
 */
export async function initTokenIfAbsent(
  options: InitTokenOptions,
): Promise<{ readonly created: boolean }> {
  const paddedLabel = paddedTokenLabel(options.label);
  requirePin(options.soPin, 'soPin');
  requirePin(options.pin, 'pin');

  const lease = acquirePkcs11Module(options.modulePath);
  try {
    const module = lease.module;
    const existing = findToken(module, options.label);
    if (existing?.userPinInitialised === true) return { created: false };
    if (existing !== undefined) {
      initUserPin(module, existing.slot, options);

      return { created: false };
    }

    const free = listTokens(module).find((token) => !token.initialised);
    if (free === undefined) {
      throw new RekeyError(
        'REKEY_HSM_TOKEN_NOT_FOUND',
        `no token is labelled "${options.label}" and no free slot is left to initialise one in: free a slot with the HSM's tools`,
        { details: { tokenLabel: options.label } },
      );
    }
    pkcs11CallSync('C_InitToken', () =>
      module.C_InitToken(free.slot, options.soPin, paddedLabel),
    );

    // The slot id can change when a token is initialised: find it again.
    const slot = requireTokenSlot(module, options.label);
    initUserPin(module, slot, options);

    return { created: true };
  } finally {
    lease.release();
  }
}

/**
 * Generates the master key on the token unless a secret key with this
 * label is there: AES-256, sensitive, never extractable, able to wrap and
 * unwrap only. Calls in one process for one key run one after another.
 *
 * Known shortcoming: two processes running this at once for one label can
 * both create a key; the adapter then refuses the label until one key is
 * removed. Run it from one process.
 *
 * @param options - module, token, PIN and key label
 * @returns whether the key was generated
 * @throws RekeyError `REKEY_HSM_KEY_NOT_FOUND` when a key with the label
 *   exists but is unfit (extractable, say), `REKEY_HSM_TOKEN_NOT_FOUND`,
 *   `REKEY_HSM_PIN_INCORRECT`, or another HSM code
 */
export async function ensureMasterKey(
  options: EnsureMasterKeyOptions,
): Promise<{ readonly created: boolean }> {
  if (typeof options.label !== 'string' || options.label === '') {
    throw new RekeyError(
      'REKEY_CONFIG_INVALID',
      'the master key label is missing: configure it',
      { details: { option: 'label' } },
    );
  }
  requirePin(options.pin, 'pin');

  const lockKey = [options.modulePath, options.tokenLabel, options.label].join(
    '\0',
  );

  return await serialised(lockKey, () => createMasterKeyIfAbsent(options));
}

async function createMasterKeyIfAbsent(
  options: EnsureMasterKeyOptions,
): Promise<{ readonly created: boolean }> {
  const lease = acquirePkcs11Module(options.modulePath);
  try {
    const module = lease.module;
    const slot = requireTokenSlot(module, options.tokenLabel);
    const target = { module, slot, pin: options.pin };

    return await withUserSession(target, async (session) => {
      if (findMasterKey(module, session, options.label) !== undefined) {
        return { created: false };
      }

      await pkcs11Call('C_GenerateKey', () =>
        module.C_GenerateKeyAsync(
          session,
          { mechanism: pkcs11js.CKM_AES_KEY_GEN },
          masterKeyTemplate(options.label, Buffer.from(options.label, 'utf8')),
        ),
      );
      // Looks again, which also catches a key made meanwhile elsewhere.
      findMasterKey(module, session, options.label);

      return { created: true };
    });
  } finally {
    lease.release();
  }
}

/**
 * Reports what the token offers of the mechanisms Rekey may use:
 * CKM_AES_KEY_GEN and each AES key-wrap mechanism.
 *
 * @param options - module and token
 * @returns one report per mechanism, key generation first
 * @throws RekeyError `REKEY_HSM_TOKEN_NOT_FOUND`, or another HSM code
 */
export async function describeMechanisms(
  options: DescribeMechanismsOptions,
): Promise<readonly MechanismReport[]> {
  const lease = acquirePkcs11Module(options.modulePath);
  try {
    const slot = requireTokenSlot(lease.module, options.tokenLabel);
    const requirements = [
      aesKeyGenRequirement,
      ...Object.values(wrapMechanismSpecs).map(wrapRequirement),
    ];

    return Object.freeze(
      requirements.map((requirement) =>
        inspectMechanism(lease.module, slot, requirement),
      ),
    );
  } finally {
    lease.release();
  }
}

function initUserPin(
  module: Pkcs11Module,
  slot: Pkcs11Handle,
  options: InitTokenOptions,
): void {
  const session = pkcs11CallSync('C_OpenSession', () =>
    module.C_OpenSession(
      slot,
      pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION,
    ),
  );
  let failed = true;
  try {
    loginAsSecurityOfficer(module, session, options.soPin);
    pkcs11CallSync('C_InitPIN', () => module.C_InitPIN(session, options.pin));
    pkcs11CallSync('C_Logout', () => module.C_Logout(session));
    failed = false;
  } finally {
    endSession(module, session, failed);
  }
}

function loginAsSecurityOfficer(
  module: Pkcs11Module,
  session: Pkcs11Handle,
  soPin: string,
): void {
  try {
    module.C_Login(session, pkcs11js.CKU_SO, soPin);
  } catch (error) {
    const translated = translatePkcs11Error(error, 'C_Login');
    if (translated.code !== 'REKEY_HSM_PIN_INCORRECT') throw translated;

    throw new RekeyError(
      'REKEY_HSM_PIN_INCORRECT',
      `the token rejected the security officer PIN (${String(translated.details.ckr)} from C_Login): check the SO PIN given for this token`,
      { details: translated.details },
    );
  }
}

async function withUserSession<T>(
  target: {
    readonly module: Pkcs11Module;
    readonly slot: Pkcs11Handle;
    readonly pin: string;
  },
  work: (session: Pkcs11Handle) => Promise<T>,
): Promise<T> {
  const { module, slot, pin } = target;
  // Read-write: the master key is a token object.
  const session = pkcs11CallSync('C_OpenSession', () =>
    module.C_OpenSession(
      slot,
      pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION,
    ),
  );
  let failed = true;
  try {
    try {
      module.C_Login(session, pkcs11js.CKU_USER, pin);
    } catch (error) {
      // Login belongs to the application; another user may have done it.
      if (!hasReturnCode(error, pkcs11js.CKR_USER_ALREADY_LOGGED_IN)) {
        throw translatePkcs11Error(error, 'C_Login');
      }
    }

    const result = await work(session);
    failed = false;

    return result;
  } finally {
    // No C_Logout: it would log out every other user of the token in this
    // process. Closing the session ends the login once no session is left.
    endSession(module, session, failed);
  }
}

/**
 * Closes a session. After a failed step, a failure to close is not
 * reported: the step's own error is, and the two share their cause.
 */
function endSession(
  module: Pkcs11Module,
  session: Pkcs11Handle,
  afterFailure: boolean,
): void {
  try {
    module.C_CloseSession(session);
  } catch (error) {
    if (!afterFailure) throw translatePkcs11Error(error, 'C_CloseSession');
  }
}

function requirePin(pin: unknown, option: string): void {
  if (typeof pin === 'string' && pin !== '') return;

  throw new RekeyError(
    'REKEY_CONFIG_INVALID',
    `the ${option === 'soPin' ? 'security officer' : 'user'} PIN is missing: configure it`,
    { details: { option } },
  );
}

const queues = new Map<string, Promise<unknown>>();

/** Runs `work` after every earlier call with the same key has settled. */
function serialised<T>(key: string, work: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const run = previous.then(work, work);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });

  return run;
}

import { realpathSync } from 'node:fs';

import { RekeyError } from '@rekey/core';
import pkcs11js from 'pkcs11js';

import {
  ckrName,
  hasReturnCode,
  pkcs11ReturnCode,
  translatePkcs11Error,
} from './pkcs11-errors.js';
import type { Pkcs11Module } from './pkcs11-module.js';

/**
 * `C_Initialize` and `C_Finalize` act on the whole process for a given
 * library: a second initialiser gets CKR_CRYPTOKI_ALREADY_INITIALIZED, and
 * one user's `C_Finalize` breaks every other user. So each library is loaded
 * once per process, shared by reference count, and finalised only when its
 * last user lets go.
 */

/** A counted reference to a loaded, initialised PKCS#11 module. */
export interface Pkcs11ModuleLease {
  /** The shared module; do not finalise or unload it yourself. */
  readonly module: Pkcs11Module;
  /** The library's resolved path. */
  readonly modulePath: string;
  /**
   * Gives the reference back; the last one finalises and unloads the
   * module. Safe to call twice.
   *
   * @throws RekeyError `REKEY_HSM_OPERATION_FAILED` when `C_Finalize` fails
   *   (the module is forgotten and unloaded all the same)
   */
  release(): void;
}

/** One loaded library, as {@link loadedPkcs11Modules} reports it. */
export interface LoadedPkcs11Module {
  readonly modulePath: string;
  /** Leases not yet released. */
  readonly users: number;
  /**
   * Whether this registry's `C_Initialize` initialised the library. When
   * someone else in the process had already done so, the registry never
   * calls `C_Finalize` on it.
   */
  readonly initialisedHere: boolean;
}

interface Entry {
  readonly module: Pkcs11Module;
  readonly initialisedHere: boolean;
  users: number;
}

// Kept on the global object so that two copies of this package loaded in one
// process (a bundled and a linked one, say) still share one module per path.
const registryKey = Symbol.for('rekey.pkcs11.module-registry');
const globalSlot = globalThis as { [registryKey]?: Map<string, Entry> };
const entries = (globalSlot[registryKey] ??= new Map<string, Entry>());

/**
 * Loads and initialises the PKCS#11 library at `modulePath`, or shares the
 * one already loaded in this process, and counts the new user.
 * `C_Initialize` runs with `CKF_OS_LOCKING_OK`, without which SoftHSM2 turns
 * its locking off and concurrent calls fail; CKR_CRYPTOKI_ALREADY_INITIALIZED
 * counts as success.
 *
 * @param modulePath - path of the PKCS#11 shared library
 * @returns a lease to release when done
 * @throws RekeyError `REKEY_HSM_MODULE_UNAVAILABLE` when the library is
 *   missing, cannot be loaded or refuses to initialise
 */
export function acquirePkcs11Module(modulePath: string): Pkcs11ModuleLease {
  const path = resolveModulePath(modulePath);
  const entry = entries.get(path) ?? loadModule(path);
  entry.users += 1;

  let released = false;

  return Object.freeze({
    module: entry.module,
    modulePath: path,
    release(): void {
      if (released) return;
      released = true;
      releaseEntry(path, entry);
    },
  });
}

/**
 * The libraries loaded in this process and how many users each has.
 *
 * @returns one row per loaded library
 */
export function loadedPkcs11Modules(): readonly LoadedPkcs11Module[] {
  return [...entries].map(([modulePath, entry]) =>
    Object.freeze({
      modulePath,
      users: entry.users,
      initialisedHere: entry.initialisedHere,
    }),
  );
}

function resolveModulePath(modulePath: string): string {
  try {
    // One entry per library even when it is reached through a symlink.
    return realpathSync(modulePath);
  } catch {
    throw new RekeyError(
      'REKEY_HSM_MODULE_UNAVAILABLE',
      `no PKCS#11 library at ${modulePath}: install the HSM's PKCS#11 module or fix the configured module path`,
      { details: { modulePath } },
    );
  }
}

function loadModule(path: string): Entry {
  const module = new pkcs11js.PKCS11();
  try {
    module.load(path);
  } catch (error) {
    // The loader's own words (dlerror), which name the file and the reason.
    const reason = error instanceof Error ? error.message : String(error);
    throw new RekeyError(
      'REKEY_HSM_MODULE_UNAVAILABLE',
      `the PKCS#11 library at ${path} could not be loaded: check that it is a PKCS#11 module built for this machine`,
      { details: { modulePath: path, reason } },
    );
  }

  let initialisedHere = true;
  try {
    module.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (error) {
    if (!hasReturnCode(error, pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
      module.close();
      const code = pkcs11ReturnCode(error);
      throw new RekeyError(
        'REKEY_HSM_MODULE_UNAVAILABLE',
        `the PKCS#11 library at ${path} refused to initialise: check its configuration (for SoftHSM2, the file SOFTHSM2_CONF names)`,
        {
          details: {
            modulePath: path,
            method: 'C_Initialize',
            ...(code === undefined
              ? {}
              : { ckr: ckrName(code), ckrCode: code }),
          },
        },
      );
    }
    initialisedHere = false;
  }

  const entry: Entry = { module, initialisedHere, users: 0 };
  entries.set(path, entry);

  return entry;
}

function releaseEntry(path: string, entry: Entry): void {
  entry.users -= 1;
  if (entry.users > 0) return;

  entries.delete(path);
  try {
    if (entry.initialisedHere) entry.module.C_Finalize();
  } catch (error) {
    throw translatePkcs11Error(error, 'C_Finalize');
  } finally {
    entry.module.close();
  }
}

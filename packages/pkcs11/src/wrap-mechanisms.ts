import { RekeyError, type WrapMechanism } from '@rekey/core';
import pkcs11js from 'pkcs11js';

import { aesKeyBytes } from './key-templates.js';
import { hasReturnCode, translatePkcs11Error } from './pkcs11-errors.js';
import type { Pkcs11Handle, Pkcs11Module } from './pkcs11-module.js';

/**
 * The PKCS#11 mechanisms Rekey uses, and the check that a token offers them
 * with the flags Rekey needs. Which AES key-wrap mechanisms a token has
 * depends on its build (SoftHSM2's RFC 5649 support depends on its crypto
 * backend), and AES-CBC-PAD, which some tools wrap with, is refused by
 * SoftHSM2's `C_WrapKey`, so the adapter checks at open instead of failing
 * at the first wrap.
 */

/** How one wrap mechanism is called and how long its output is. */
export interface WrapMechanismSpec {
  readonly mechanism: WrapMechanism;
  /** The CKM_* code. */
  readonly ckm: number;
  /** The CKM_* name, for messages. */
  readonly ckmName: string;
  /**
   * The length of the wrap of a key of `keyBytes` bytes, so that output
   * buffers are sized exactly: CKR_BUFFER_TOO_SMALL would leave an operation
   * active on the session.
   */
  wrappedBytes(keyBytes: number): number;
}

const ceilToBlock = (n: number): number => Math.ceil(n / 8) * 8;

/** The wrap mechanisms Rekey can use, by name. */
export const wrapMechanismSpecs: Readonly<
  Record<WrapMechanism, WrapMechanismSpec>
> = Object.freeze({
  'aes-key-wrap-pad': Object.freeze({
    mechanism: 'aes-key-wrap-pad',
    ckm: pkcs11js.CKM_AES_KEY_WRAP_PAD,
    ckmName: 'CKM_AES_KEY_WRAP_PAD',
    // RFC 5649: the key padded to whole 8-byte blocks, plus one block.
    wrappedBytes: (keyBytes: number) => ceilToBlock(keyBytes) + 8,
  }),
  'aes-key-wrap': Object.freeze({
    mechanism: 'aes-key-wrap',
    ckm: pkcs11js.CKM_AES_KEY_WRAP,
    ckmName: 'CKM_AES_KEY_WRAP',
    // RFC 3394: whole 8-byte blocks only, plus one block.
    wrappedBytes: (keyBytes: number) => keyBytes + 8,
  }),
});

/**
 * The spec of a wrap mechanism named in configuration or in a stored
 * {@link WrappedKey}.
 *
 * @param mechanism - the mechanism's name
 * @throws RekeyError `REKEY_HSM_MECHANISM_UNSUPPORTED` for a name Rekey does
 *   not know
 */
export function wrapMechanismSpec(mechanism: unknown): WrapMechanismSpec {
  if (
    typeof mechanism !== 'string' ||
    !Object.hasOwn(wrapMechanismSpecs, mechanism)
  ) {
    throw new RekeyError(
      'REKEY_HSM_MECHANISM_UNSUPPORTED',
      `Rekey cannot wrap keys with mechanism ${JSON.stringify(mechanism)}: use one of ${knownNames()}`,
      { details: { mechanism: String(mechanism) } },
    );
  }

  return wrapMechanismSpecs[mechanism as WrapMechanism];
}

function knownNames(): string {
  return Object.keys(wrapMechanismSpecs)
    .map((name) => `'${name}'`)
    .join(', ');
}

/** A capability a mechanism may offer, after its CKF_* flag. */
export type MechanismCapability =
  'generate' | 'wrap' | 'unwrap' | 'encrypt' | 'decrypt';

const capabilityFlags: Readonly<Record<MechanismCapability, number>> =
  Object.freeze({
    generate: pkcs11js.CKF_GENERATE,
    wrap: pkcs11js.CKF_WRAP,
    unwrap: pkcs11js.CKF_UNWRAP,
    encrypt: pkcs11js.CKF_ENCRYPT,
    decrypt: pkcs11js.CKF_DECRYPT,
  });

/** What Rekey needs of one mechanism. */
export interface MechanismRequirement {
  readonly ckm: number;
  readonly ckmName: string;
  readonly capabilities: readonly MechanismCapability[];
}

/** What a token offers of one mechanism, against what Rekey needs. */
export interface MechanismReport {
  readonly ckm: number;
  readonly ckmName: string;
  /** Whether the token lists the mechanism at all. */
  readonly available: boolean;
  /** The capabilities the token reports for it. */
  readonly capabilities: Readonly<Record<MechanismCapability, boolean>>;
  readonly minKeySize: number;
  readonly maxKeySize: number;
  /**
   * What Rekey needs and the token lacks: capabilities, `mechanism` when
   * the mechanism is absent, or `aes-256` when the key-size range excludes
   * 256-bit keys. Empty when the mechanism is usable.
   */
  readonly missing: readonly string[];
}

/** CKM_AES_KEY_GEN, which makes every key Rekey creates. */
export const aesKeyGenRequirement: MechanismRequirement = Object.freeze({
  ckm: pkcs11js.CKM_AES_KEY_GEN,
  ckmName: 'CKM_AES_KEY_GEN',
  capabilities: Object.freeze(['generate'] as const),
});

/**
 * What Rekey needs of a wrap mechanism: both directions.
 *
 * @param spec - the wrap mechanism
 */
export function wrapRequirement(spec: WrapMechanismSpec): MechanismRequirement {
  return Object.freeze({
    ckm: spec.ckm,
    ckmName: spec.ckmName,
    capabilities: Object.freeze(['wrap', 'unwrap'] as const),
  });
}

/**
 * Asks the token about one mechanism (`C_GetMechanismInfo`).
 *
 * @param module - the loaded module
 * @param slot - the token's slot
 * @param requirement - the mechanism and what Rekey needs of it
 * @returns what the token offers and what is missing
 * @throws RekeyError for failures other than an unknown mechanism
 */
export function inspectMechanism(
  module: Pkcs11Module,
  slot: Pkcs11Handle,
  requirement: MechanismRequirement,
): MechanismReport {
  let info: { minKeySize: number; maxKeySize: number; flags: number };
  try {
    info = module.C_GetMechanismInfo(slot, requirement.ckm);
  } catch (error) {
    if (!hasReturnCode(error, pkcs11js.CKR_MECHANISM_INVALID)) {
      throw translatePkcs11Error(error, 'C_GetMechanismInfo');
    }

    return absentMechanism(requirement);
  }

  const capabilities = Object.freeze(
    Object.fromEntries(
      Object.entries(capabilityFlags).map(([name, flag]) => [
        name,
        (info.flags & flag) !== 0,
      ]),
    ) as Record<MechanismCapability, boolean>,
  );
  const missing: string[] = requirement.capabilities.filter(
    (capability) => !capabilities[capability],
  );
  if (!allowsAes256(info)) missing.push('aes-256');

  return Object.freeze({
    ckm: requirement.ckm,
    ckmName: requirement.ckmName,
    available: true,
    capabilities,
    minKeySize: info.minKeySize,
    maxKeySize: info.maxKeySize,
    missing: Object.freeze(missing),
  });
}

function absentMechanism(requirement: MechanismRequirement): MechanismReport {
  return Object.freeze({
    ckm: requirement.ckm,
    ckmName: requirement.ckmName,
    available: false,
    capabilities: Object.freeze({
      generate: false,
      wrap: false,
      unwrap: false,
      encrypt: false,
      decrypt: false,
    }),
    minKeySize: 0,
    maxKeySize: 0,
    missing: Object.freeze(['mechanism']),
  });
}

/**
 * Whether a mechanism's key-size range admits AES-256. PKCS#11 gives AES
 * sizes in bytes, but some modules report bits, so either reading counts.
 */
function allowsAes256(info: {
  minKeySize: number;
  maxKeySize: number;
}): boolean {
  const inRange = (size: number): boolean =>
    info.minKeySize <= size && size <= info.maxKeySize;

  return inRange(aesKeyBytes) || inRange(aesKeyBytes * 8);
}

/**
 * Refuses a token that lacks what Rekey needs: CKM_AES_KEY_GEN, and the
 * configured wrap mechanism with both wrap and unwrap.
 *
 * @param module - the loaded module
 * @param slot - the token's slot
 * @param spec - the configured wrap mechanism
 * @throws RekeyError `REKEY_HSM_MECHANISM_UNSUPPORTED` naming what is
 *   missing and what to configure instead
 */
export function requireMechanisms(
  module: Pkcs11Module,
  slot: Pkcs11Handle,
  spec: WrapMechanismSpec,
): void {
  const keyGen = inspectMechanism(module, slot, aesKeyGenRequirement);
  if (keyGen.missing.length > 0) {
    throw new RekeyError(
      'REKEY_HSM_MECHANISM_UNSUPPORTED',
      `the token does not offer CKM_AES_KEY_GEN for AES-256 keys (missing: ${keyGen.missing.join(', ')}): Rekey needs a token that generates AES-256 keys`,
      { details: { ckm: keyGen.ckmName, missing: keyGen.missing.join(',') } },
    );
  }

  const wrap = inspectMechanism(module, slot, wrapRequirement(spec));
  if (wrap.missing.length > 0) {
    const others = Object.values(wrapMechanismSpecs)
      .filter((other) => other.mechanism !== spec.mechanism)
      .filter(
        (other) =>
          inspectMechanism(module, slot, wrapRequirement(other)).missing
            .length === 0,
      )
      .map((other) => `'${other.mechanism}'`);
    const advice =
      others.length > 0
        ? `configure wrapMechanism ${others.join(' or ')}, which this token offers`
        : 'this token offers no AES key-wrap mechanism Rekey can use; use another token or PKCS#11 module';
    throw new RekeyError(
      'REKEY_HSM_MECHANISM_UNSUPPORTED',
      `the token does not offer ${spec.ckmName} (wrapMechanism '${spec.mechanism}') with wrap and unwrap for AES-256 keys (missing: ${wrap.missing.join(', ')}): ${advice}`,
      {
        details: {
          mechanism: spec.mechanism,
          ckm: spec.ckmName,
          missing: wrap.missing.join(','),
        },
      },
    );
  }
}

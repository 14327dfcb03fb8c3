import type { KeyMaterial } from './key-material.js';

/** The three tiers of the key hierarchy. */
export type KeyKind = 'master' | 'kek' | 'dek';

/**
 * The life of a key version:
 * - `active`: the one version of its scope used for new encryptions;
 * - `decrypt-only`: superseded; still decrypts data not yet re-encrypted;
 * - `retired`: no data uses it any more; it is kept for the record.
 */
export type KeyState = 'active' | 'decrypt-only' | 'retired';

/** PKCS#11 key-wrap mechanisms Rekey supports, by RFC. */
export type WrapMechanism =
  /** RFC 5649, AES key wrap with padding (CKM_AES_KEY_WRAP_PAD). */
  | 'aes-key-wrap-pad'
  /** RFC 3394, AES key wrap (CKM_AES_KEY_WRAP). */
  | 'aes-key-wrap';

/** A key as the HSM wrapped it, with the mechanism that did so. */
export interface WrappedKey {
  readonly mechanism: WrapMechanism;
  readonly bytes: Buffer;
}

/** One version of a key, as the key registry records it. */
export interface KeyRecord {
  readonly id: number;
  readonly kind: KeyKind;
  /** `master` for master keys, the KEK's name, or the tenant id of a DEK. */
  readonly scope: string;
  readonly version: number;
  readonly state: KeyState;
  /** The key that wraps this one; null for a master key. */
  readonly wrappedById: number | null;
  /** The wrapped bytes; null for a master key, which never leaves the HSM. */
  readonly wrapped: WrappedKey | null;
  /** The token object's label; set for master keys only. */
  readonly hsmLabel: string | null;
  readonly createdAt: Date;
  readonly retiredAt: Date | null;
}

/** What the key registry needs to add a version. */
export interface NewKeyVersion {
  readonly kind: KeyKind;
  readonly scope: string;
  readonly wrappedById: number | null;
  readonly wrapped: WrappedKey | null;
  readonly hsmLabel: string | null;
  /**
   * The rotation run that creates this version. A second call with the same
   * run returns the version the first call made instead of adding another.
   */
  readonly createdByRun?: number;
}

/** A data-encryption key ready for the record cipher. */
export interface DataKey {
  readonly keyId: number;
  readonly version: number;
  readonly material: KeyMaterial;
}

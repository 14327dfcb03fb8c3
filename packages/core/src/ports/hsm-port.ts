import type { KeyMaterial } from '../keys/key-material.js';
import type { WrappedKey } from '../keys/key-types.js';

/**
 * Names the key the HSM wraps or unwraps with.
 * - a master key lives on the token and is found by its label;
 * - a KEK is stored wrapped under a master key, and the HSM unwraps it into a
 *   non-extractable session object before use.
 */
export type WrappingKey =
  | { readonly kind: 'master'; readonly label: string }
  | {
      readonly kind: 'kek';
      readonly keyId: number;
      readonly masterLabel: string;
      readonly wrapped: WrappedKey;
    };

/**
 * What Rekey needs from a hardware security module. Key bytes leave the HSM
 * only through {@link HsmPort.unwrapDataKey}, and only for DEKs.
 */
export interface HsmPort {
  /**
   * Generates an AES-256 key with the HSM's generator and returns it wrapped
   * under `under`; the unwrapped key never leaves the HSM.
   *
   * @throws RekeyError with an HSM code
   */
  generateWrappedKey(under: WrappingKey): Promise<WrappedKey>;

  /**
   * Unwraps a data-encryption key and returns its bytes.
   *
   * @throws RekeyError `REKEY_HSM_UNWRAP_FAILED` when `wrapped` was altered
   *   or wrapped under another key
   */
  unwrapDataKey(under: WrappingKey, wrapped: WrappedKey): Promise<KeyMaterial>;

  /** PKCS#11 key operations (generate, wrap, unwrap) made so far. */
  readonly operationCount: number;

  /** Releases sessions and, when no other user remains, the module. */
  close(): Promise<void>;
}

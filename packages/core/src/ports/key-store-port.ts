import type { KeyKind, KeyRecord, NewKeyVersion } from '../keys/key-types.js';

/**
 * The key registry and the wrapped key material. Implementations must make
 * {@link KeyStorePort.addActiveVersion} atomic and durable: once it returns,
 * the new version survives a crash, so data may be written under it.
 */
export interface KeyStorePort {
  /** The key with this id, if any. */
  getKey(id: number): Promise<KeyRecord | undefined>;

  /** The active version of a scope, if any. */
  findActiveKey(kind: KeyKind, scope: string): Promise<KeyRecord | undefined>;

  /** Every version of a scope, oldest first. */
  listKeys(kind: KeyKind, scope: string): Promise<KeyRecord[]>;

  /**
   * Adds the next version of a scope as `active` and demotes the previous
   * active version to `decrypt-only`, in one transaction. Idempotent on
   * `createdByRun`.
   */
  addActiveVersion(key: NewKeyVersion): Promise<KeyRecord>;

  /**
   * Marks a `decrypt-only` key `retired`.
   *
   * @throws RekeyError `REKEY_KEY_STATE_INVALID` when the key is active
   */
  retireKey(id: number): Promise<KeyRecord>;
}

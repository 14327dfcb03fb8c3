import { RekeyError, type KeyRecord, type KeyStorePort } from '@rekey/core';
import type { RecordBatchIo } from '@rekey/postgres';

/** What {@link retireDataKey} needs. */
export interface KeyRetirementDeps {
  readonly keys: KeyStorePort;
  readonly records: Pick<RecordBatchIo, 'countRowsUnderKey'>;
}

/**
 * Retires a tenant's DEK, but only after a fresh count finds no row of the
 * record table still encrypted under it. This is the one path by which a
 * DEK is retired.
 *
 * @throws RekeyError `REKEY_KEY_RETIREMENT_BLOCKED` with the count of rows
 *   still under the key, `REKEY_KEY_NOT_FOUND` for an unknown or non-DEK id,
 *   and `REKEY_KEY_STATE_INVALID` for the active key
 */
export async function retireDataKey(
  deps: KeyRetirementDeps,
  keyId: number,
): Promise<KeyRecord> {
  const key = await deps.keys.getKey(keyId);
  if (!key || key.kind !== 'dek') {
    throw new RekeyError(
      'REKEY_KEY_NOT_FOUND',
      `no data-encryption key has id ${keyId}`,
      { details: { keyId } },
    );
  }
  if (key.state === 'retired') return key;

  const remaining = await deps.records.countRowsUnderKey(key.scope, key.id);
  if (remaining > 0) {
    throw new RekeyError(
      'REKEY_KEY_RETIREMENT_BLOCKED',
      `key ${key.id} (tenant ${key.scope}, version ${key.version}) still encrypts ${remaining} row(s); re-encrypt or repair them first`,
      { details: { keyId: key.id, remaining } },
    );
  }

  return deps.keys.retireKey(key.id);
}

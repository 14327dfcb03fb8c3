import { createHash } from 'node:crypto';

import { RekeyError } from '../errors/rekey-errors.js';
import type { HsmPort, WrappingKey } from '../ports/hsm-port.js';
import type { KeyStorePort } from '../ports/key-store-port.js';
import type { DataKey, KeyRecord, WrappedKey } from './key-types.js';

/** Options of a {@link KeyHierarchy}. */
export interface KeyHierarchyOptions {
  readonly hsm: HsmPort;
  readonly store: KeyStorePort;
  /**
   * The scope (name) of the KEK that wraps new DEKs.
   * @defaultValue `'default'`
   */
  readonly kekScope?: string;
}

/** The scope under which master keys are registered. */
export const masterScope = 'master';

/**
 * The key hierarchy: a master key on the HSM wraps KEKs, and a KEK wraps one
 * DEK per tenant. This class decides which key wraps which, creates new
 * versions through the HSM and the key store, and keeps each DEK it has
 * unwrapped in memory, so that the HSM is called once per key and process,
 * never per row.
 */
export class KeyHierarchy {
  readonly #hsm: HsmPort;
  readonly #store: KeyStorePort;
  readonly #kekScope: string;
  /** Unwrapped DEKs by `<id>:<sha-256 of the wrapped bytes>`. */
  readonly #dataKeys = new Map<string, Promise<DataKey>>();

  /** @param options - the HSM, the key store and the KEK scope */
  constructor(options: KeyHierarchyOptions) {
    this.#hsm = options.hsm;
    this.#store = options.store;
    this.#kekScope = options.kekScope ?? 'default';
  }

  /**
   * Registers the master key that lives on the token under `label`, unless
   * the active master key already has that label.
   *
   * @returns the active master key record
   */
  async registerMasterKey(label: string): Promise<KeyRecord> {
    const active = await this.#store.findActiveKey('master', masterScope);
    if (active?.hsmLabel === label) return active;

    return this.#store.addActiveVersion({
      kind: 'master',
      scope: masterScope,
      wrappedById: null,
      wrapped: null,
      hsmLabel: label,
    });
  }

  /**
   * Returns the active KEK, generating and registering the first one under
   * the active master key if there is none.
   *
   * @throws RekeyError `REKEY_KEY_NOT_FOUND` when no master key is registered
   */
  async ensureKek(): Promise<KeyRecord> {
    const active = await this.#store.findActiveKey('kek', this.#kekScope);
    if (active) return active;

    const master = await this.#activeMaster();
    const wrapped = await this.#hsm.generateWrappedKey(masterRef(master));

    return this.#store.addActiveVersion({
      kind: 'kek',
      scope: this.#kekScope,
      wrappedById: master.id,
      wrapped,
      hsmLabel: null,
    });
  }

  /**
   * The tenant's active DEK.
   *
   * @throws RekeyError `REKEY_TENANT_UNKNOWN` when the tenant has none
   */
  async activeDek(tenantId: string): Promise<KeyRecord> {
    const active = await this.#store.findActiveKey('dek', tenantId);
    if (!active) {
      throw new RekeyError(
        'REKEY_TENANT_UNKNOWN',
        `tenant ${JSON.stringify(tenantId)} has no data-encryption key; create it first (for example by seeding the tenant)`,
        { details: { tenantId } },
      );
    }

    return active;
  }

  /**
   * Returns the tenant's active DEK, creating version 1 if it has none.
   */
  async ensureTenantDek(tenantId: string): Promise<KeyRecord> {
    const active = await this.#store.findActiveKey('dek', tenantId);
    if (active) return active;

    return this.#addDek(tenantId);
  }

  /**
   * Generates the tenant's next DEK, stores it wrapped and makes it active;
   * the previous version becomes decrypt-only. Calling again with the same
   * run returns the version the first call made.
   *
   * @param tenantId - the tenant
   * @param runId - the rotation run that asks for it
   */
  async rotateDek(tenantId: string, runId: number): Promise<KeyRecord> {
    await this.activeDek(tenantId);

    return this.#addDek(tenantId, runId);
  }

  /**
   * The DEK with this registry id, unwrapped. The record is read afresh on
   * every call, so a key retired meanwhile is refused even when it is held
   * in memory; the HSM is asked only the first time per process (concurrent
   * first calls share one unwrap). Memory holds each key under its id and
   * the digest of its wrapped bytes, so a registry restored or recreated
   * under the same ids can never be answered with another key's bytes.
   *
   * @throws RekeyError `REKEY_KEY_NOT_FOUND` for an unknown id or one that
   *   is not a DEK, `REKEY_KEY_STATE_INVALID` for a retired key, and the HSM
   *   codes of an unwrap that fails
   */
  async dataKey(keyId: number): Promise<DataKey> {
    const record = await this.#store.getKey(keyId);
    if (!record || record.kind !== 'dek' || !record.wrapped) {
      throw new RekeyError(
        'REKEY_KEY_NOT_FOUND',
        `no data-encryption key has id ${keyId} in the key registry`,
        { details: { keyId } },
      );
    }
    if (record.state === 'retired') {
      throw new RekeyError(
        'REKEY_KEY_STATE_INVALID',
        `data-encryption key ${keyId} (tenant ${record.scope}, version ${record.version}) is retired and may no longer be used`,
        { details: { keyId, version: record.version } },
      );
    }

    const slot = `${keyId}:${createHash('sha256').update(record.wrapped.bytes).digest('base64')}`;
    const cached = this.#dataKeys.get(slot);
    if (cached) return cached;

    const loading = this.#unwrapDataKey(record, record.wrapped);
    this.#dataKeys.set(slot, loading);
    loading.catch(() => this.#dataKeys.delete(slot));

    return loading;
  }

  /** Drops one unwrapped DEK from memory and zeroes its bytes. */
  async forget(keyId: number): Promise<void> {
    const slots = [...this.#dataKeys.keys()].filter((slot) =>
      slot.startsWith(`${keyId}:`),
    );
    for (const slot of slots) {
      const loading = this.#dataKeys.get(slot);
      this.#dataKeys.delete(slot);
      const key = await loading?.catch(() => undefined);
      key?.material.destroy();
    }
  }

  /** Zeroes every DEK held in memory. Safe to call twice. */
  async close(): Promise<void> {
    const loading = [...this.#dataKeys.values()];
    this.#dataKeys.clear();
    const keys = await Promise.allSettled(loading);
    for (const key of keys) {
      if (key.status === 'fulfilled') key.value.material.destroy();
    }
  }

  async #addDek(tenantId: string, runId?: number): Promise<KeyRecord> {
    const kek = await this.ensureKek();
    const wrapped = await this.#hsm.generateWrappedKey(await this.#kekRef(kek));

    return this.#store.addActiveVersion({
      kind: 'dek',
      scope: tenantId,
      wrappedById: kek.id,
      wrapped,
      hsmLabel: null,
      ...(runId === undefined ? {} : { createdByRun: runId }),
    });
  }

  async #unwrapDataKey(
    record: KeyRecord,
    wrapped: WrappedKey,
  ): Promise<DataKey> {
    const kek = await this.#wrappingKeyOf(record);
    const material = await this.#hsm.unwrapDataKey(
      await this.#kekRef(kek),
      wrapped,
    );

    return { keyId: record.id, version: record.version, material };
  }

  async #kekRef(kek: KeyRecord): Promise<WrappingKey> {
    const master = await this.#wrappingKeyOf(kek);
    if (!kek.wrapped || !master.hsmLabel) {
      throw new RekeyError(
        'REKEY_KEY_NOT_FOUND',
        `key-encryption key ${kek.id} has no wrapped material or no master key label in the key registry`,
        { details: { keyId: kek.id } },
      );
    }

    return {
      kind: 'kek',
      keyId: kek.id,
      masterLabel: master.hsmLabel,
      wrapped: kek.wrapped,
    };
  }

  async #wrappingKeyOf(record: KeyRecord): Promise<KeyRecord> {
    const parent =
      record.wrappedById === null
        ? undefined
        : await this.#store.getKey(record.wrappedById);
    if (!parent) {
      throw new RekeyError(
        'REKEY_KEY_NOT_FOUND',
        `the key that wraps key ${record.id} (${record.kind} ${record.scope} v${record.version}) is missing from the key registry`,
        { details: { keyId: record.id } },
      );
    }

    return parent;
  }

  async #activeMaster(): Promise<KeyRecord> {
    const master = await this.#store.findActiveKey('master', masterScope);
    if (!master?.hsmLabel) {
      throw new RekeyError(
        'REKEY_KEY_NOT_FOUND',
        'no master key is registered; initialise the HSM first (`rekey hsm init`)',
      );
    }

    return master;
  }
}

function masterRef(master: KeyRecord): WrappingKey {
  return { kind: 'master', label: master.hsmLabel ?? '' };
}

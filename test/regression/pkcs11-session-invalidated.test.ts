import { inspect } from 'node:util';

import { isRekeyError, type WrappingKey } from '@rekey/core';
import {
  acquirePkcs11Module,
  type Pkcs11Hsm,
  type Pkcs11ModuleLease,
  requireTokenSlot,
} from '@rekey/pkcs11';
import pkcs11js from 'pkcs11js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { testToken } from '../support/hsm-env.js';
import {
  newMasterKey,
  openHsm,
  TokenSession,
} from '../support/pkcs11-fixtures.js';
import { testEnv } from '../support/test-env.js';

interface Tenant {
  readonly kek: Extract<WrappingKey, { kind: 'kek' }>;
  readonly wrappedDek: Awaited<ReturnType<Pkcs11Hsm['generateWrappedKey']>>;
  readonly dek: Buffer;
}

async function tenantKeys(hsm: Pkcs11Hsm, keyId: number): Promise<Tenant> {
  const masterLabel = await newMasterKey('reset');
  const wrapped = await hsm.generateWrappedKey({
    kind: 'master',
    label: masterLabel,
  });
  const kek = { kind: 'kek' as const, keyId, masterLabel, wrapped };
  const wrappedDek = await hsm.generateWrappedKey(kek);
  const dek = Buffer.from((await hsm.unwrapDataKey(kek, wrappedDek)).bytes);

  return { kek, wrappedDek, dek };
}

// The HSM may invalidate cached sessions (timeout, restart, token reset):
// every call then fails with CKR_SESSION_HANDLE_INVALID until the client
// reopens its sessions.
describe('sessions the HSM invalidated', () => {
  let lease: Pkcs11ModuleLease;
  let slot: Buffer;

  beforeEach(() => {
    lease = acquirePkcs11Module(testEnv.pkcs11Module);
    slot = requireTokenSlot(lease.module, testToken().label);
  });

  afterEach(() => {
    lease.release();
  });

  it('reopens, logs in and retries once after all sessions on the slot were closed', async () => {
    await using hsm = await openHsm();
    const tenant = await tenantKeys(hsm, 21);

    const before = hsm.operationCount;
    lease.module.C_CloseAllSessions(slot);
    const batch2 = await hsm.unwrapDataKey(tenant.kek, tenant.wrappedDek);

    expect(batch2.bytes.equals(tenant.dek)).toBe(true);
    // The failed unwrap, the KEK unwrapped again, the retried unwrap.
    expect(hsm.operationCount - before).toBe(3);

    lease.module.C_CloseAllSessions(slot);
    const next = await hsm.generateWrappedKey(tenant.kek);

    expect(next.bytes).toHaveLength(40);
  });

  it('recovers when the application was logged out under it', async () => {
    await using hsm = await openHsm();
    const tenant = await tenantKeys(hsm, 22);

    const before = hsm.operationCount;
    {
      await using session = TokenSession.open();
      // Login belongs to the application: this logs every session out.
      session.module.C_Logout(session.handle);
    }
    const batch2 = await hsm.unwrapDataKey(tenant.kek, tenant.wrappedDek);

    expect(batch2.bytes.equals(tenant.dek)).toBe(true);
    expect(hsm.operationCount - before).toBe(3);
  });

  it('keeps concurrent operations going across one invalidation', async () => {
    await using hsm = await openHsm({ maxSessions: 3 });
    const tenant = await tenantKeys(hsm, 23);
    const before = hsm.operationCount;

    const unwraps = Array.from({ length: 60 }, (_, i) =>
      (async () => {
        if (i === 20) lease.module.C_CloseAllSessions(slot);
        return hsm.unwrapDataKey(tenant.kek, tenant.wrappedDek);
      })(),
    );

    for (const key of await Promise.all(unwraps)) {
      expect(key.bytes.equals(tenant.dek)).toBe(true);
    }
    // Some operations failed on the closed sessions and ran again.
    expect(hsm.operationCount - before).toBeGreaterThan(60);
  });

  it('fails as retryable when the sessions are lost again, naming the CKR code but not the PIN', async () => {
    await using hsm = await openHsm();
    const tenant = await tenantKeys(hsm, 24);

    // The HSM stays unavailable: every unwrap finds its sessions closed.
    const module = lease.module;
    const unwrap = module.C_UnwrapKeyAsync;
    let calls = 0;
    module.C_UnwrapKeyAsync = function (...args) {
      calls += 1;
      module.C_CloseAllSessions(slot);
      return unwrap.apply(this, args);
    };
    let error: unknown;
    try {
      error = await hsm
        .unwrapDataKey(tenant.kek, tenant.wrappedDek)
        .catch((e: unknown) => e);
    } finally {
      module.C_UnwrapKeyAsync = unwrap;
    }

    expect(calls).toBe(2);
    expect(isRekeyError(error, 'REKEY_HSM_SESSION_LOST')).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(true);
    expect((error as { details: unknown }).details).toMatchObject({
      ckr: 'CKR_SESSION_HANDLE_INVALID',
      ckrCode: pkcs11js.CKR_SESSION_HANDLE_INVALID,
      attempts: 2,
    });
    expect((error as Error).message).toContain('CKR_SESSION_HANDLE_INVALID');
    const dump = inspect(error, { depth: 10 }) + JSON.stringify(error);
    expect(dump).not.toContain(testToken().pin);
    expect(dump).not.toContain(tenant.dek.toString('hex'));

    // Once the HSM is back, the same adapter works again.
    const back = await hsm.unwrapDataKey(tenant.kek, tenant.wrappedDek);
    expect(back.bytes.equals(tenant.dek)).toBe(true);
  });
});

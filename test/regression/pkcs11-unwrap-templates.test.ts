import { randomBytes } from 'node:crypto';

import { dekReadTemplate } from '@rekey/pkcs11';
import pkcs11js from 'pkcs11js';
import { describe, expect, it } from 'vitest';

import {
  ckrOf,
  newMasterKey,
  openHsm,
  TokenSession,
} from '../support/pkcs11-fixtures.js';

function attributes(
  session: TokenSession,
  object: Buffer,
): Record<string, boolean> {
  const names = {
    sensitive: pkcs11js.CKA_SENSITIVE,
    extractable: pkcs11js.CKA_EXTRACTABLE,
    wrapWithTrusted: pkcs11js.CKA_WRAP_WITH_TRUSTED,
    encrypt: pkcs11js.CKA_ENCRYPT,
    decrypt: pkcs11js.CKA_DECRYPT,
    wrap: pkcs11js.CKA_WRAP,
    unwrap: pkcs11js.CKA_UNWRAP,
    token: pkcs11js.CKA_TOKEN,
  };
  const values = session.module.C_GetAttributeValue(
    session.handle,
    object,
    Object.values(names).map((type) => ({ type })),
  );

  return Object.fromEntries(
    Object.entries(names).map(([name, type]) => [
      name,
      values.find((v) => v.type === type)?.value[0] === 1,
    ]),
  );
}

/** What a failed attribute change reports; pkcs11js gives it no code. */
function setAttributeFailure(
  session: TokenSession,
  object: Buffer,
  attribute: { readonly type: number; readonly value: boolean },
): string {
  const module = session.module as typeof session.module & {
    C_SetAttributeValue(s: Buffer, o: Buffer, t: unknown[]): void;
  };
  try {
    module.C_SetAttributeValue(session.handle, object, [attribute]);
    return 'accepted';
  } catch (error) {
    return String((error as Error).message);
  }
}

// An unwrap template that leaves out CKA_EXTRACTABLE gives a key that can
// be wrapped out under any key; one that is sensitive or unextractable
// gives no CKA_VALUE. The templates must state their attributes.
describe('attributes of the keys the adapter makes', () => {
  it('keeps the KEK session object unreadable and never wrappable out', async () => {
    const masterLabel = await newMasterKey('tmpl');
    await using session = TokenSession.open();
    const hex = (handles: Buffer[]) => handles.map((h) => h.toString('hex'));
    const before = new Set(hex(session.sessionKeys()));
    await using hsm = await openHsm();
    const wrapped = await hsm.generateWrappedKey({
      kind: 'master',
      label: masterLabel,
    });
    const kek = { kind: 'kek' as const, keyId: 41, masterLabel, wrapped };
    await hsm.generateWrappedKey(kek);

    // The one session object the adapter keeps: the unwrapped KEK.
    const added = session
      .sessionKeys()
      .filter((handle) => !before.has(handle.toString('hex')));
    expect(added).toHaveLength(1);
    const kekObject = added[0]!;
    const outsider = session.createKey(randomBytes(32));
    try {
      expect(attributes(session, kekObject)).toEqual({
        sensitive: true,
        extractable: false,
        wrapWithTrusted: true,
        encrypt: false,
        decrypt: false,
        wrap: true,
        unwrap: true,
        token: false,
      });
      expect(
        await ckrOf(() =>
          session.module.C_GetAttributeValue(session.handle, kekObject, [
            { type: pkcs11js.CKA_VALUE },
          ]),
        ),
      ).toBe(pkcs11js.CKR_ATTRIBUTE_SENSITIVE);
      expect(
        await ckrOf(() =>
          session.wrap(pkcs11js.CKM_AES_KEY_WRAP_PAD, outsider, kekObject),
        ),
      ).toBe(pkcs11js.CKR_KEY_UNEXTRACTABLE);
      expect(
        setAttributeFailure(session, kekObject, {
          type: pkcs11js.CKA_EXTRACTABLE,
          value: true,
        }),
      ).toContain('CKR_ATTRIBUTE_READ_ONLY');
    } finally {
      session.destroy(outsider);
    }
  });

  it('keeps the master key unreadable, unwrappable out and non-extractable', async () => {
    const masterLabel = await newMasterKey('tmpl');
    await using session = TokenSession.open();
    const master = session.masterKey(masterLabel);
    const outsider = session.createKey(randomBytes(32));
    try {
      expect(attributes(session, master)).toMatchObject({
        sensitive: true,
        extractable: false,
        encrypt: false,
        decrypt: false,
        wrap: true,
        unwrap: true,
        token: true,
      });
      expect(
        await ckrOf(() =>
          session.module.C_GetAttributeValue(session.handle, master, [
            { type: pkcs11js.CKA_VALUE },
          ]),
        ),
      ).toBe(pkcs11js.CKR_ATTRIBUTE_SENSITIVE);
      expect(
        await ckrOf(() =>
          session.wrap(pkcs11js.CKM_AES_KEY_WRAP_PAD, outsider, master),
        ),
      ).toBe(pkcs11js.CKR_KEY_UNEXTRACTABLE);
      // CKA_MODIFIABLE=false: SoftHSM2 answers CKR_ACTION_PROHIBITED (0x1B),
      // which pkcs11js 2.1.7 has no name for and reports by number.
      expect(
        setAttributeFailure(session, master, {
          type: pkcs11js.CKA_EXTRACTABLE,
          value: true,
        }),
      ).toMatch(/CKR_ATTRIBUTE_READ_ONLY|:27$/);
    } finally {
      session.destroy(outsider);
    }
  });

  it('lets a DEK unwrapped for reading be read, but not wrapped out under another key', async () => {
    await using session = TokenSession.open();
    const kek = session.createKey(randomBytes(32));
    const outsider = session.createKey(randomBytes(32));
    const dekValue = randomBytes(32);
    const dekObject = session.createKey(dekValue);
    const wrappedDek = await session.wrap(
      pkcs11js.CKM_AES_KEY_WRAP_PAD,
      kek,
      dekObject,
    );
    session.destroy(dekObject);

    const unwrap = (template: Parameters<typeof session.find>[0]) =>
      session.module.C_UnwrapKeyAsync(
        session.handle,
        { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD },
        kek,
        wrappedDek,
        template,
      );
    const readable = await unwrap(dekReadTemplate());
    // The same template without CKA_WRAP_WITH_TRUSTED, which is what
    // reading the bytes alone needs.
    const unguarded = await unwrap(
      dekReadTemplate().filter(
        (attribute) => attribute.type !== pkcs11js.CKA_WRAP_WITH_TRUSTED,
      ),
    );
    try {
      const [value] = session.module.C_GetAttributeValue(
        session.handle,
        readable,
        [{ type: pkcs11js.CKA_VALUE }],
      );
      expect(value?.value.equals(dekValue)).toBe(true);
      expect(
        await ckrOf(() =>
          session.wrap(pkcs11js.CKM_AES_KEY_WRAP_PAD, outsider, readable),
        ),
      ).toBe(pkcs11js.CKR_KEY_NOT_WRAPPABLE);
      expect(
        setAttributeFailure(session, readable, {
          type: pkcs11js.CKA_WRAP_WITH_TRUSTED,
          value: false,
        }),
      ).toContain('CKR_ATTRIBUTE_READ_ONLY');

      // Without the guard, the same key leaves under any key.
      const leaked = await session.wrap(
        pkcs11js.CKM_AES_KEY_WRAP_PAD,
        outsider,
        unguarded,
      );
      expect(leaked).toHaveLength(40);
    } finally {
      for (const object of [readable, unguarded, outsider, kek]) {
        session.destroy(object);
      }
    }
  });

  it('destroys every session object it makes: the count returns to its baseline', async () => {
    const masterLabel = await newMasterKey('tmpl');
    await using session = TokenSession.open();
    const baseline = session.sessionKeys().length;

    const hsm = await openHsm();
    const wrapped = await hsm.generateWrappedKey({
      kind: 'master',
      label: masterLabel,
    });
    const kek = { kind: 'kek' as const, keyId: 42, masterLabel, wrapped };
    const deks = await Promise.all(
      Array.from({ length: 20 }, () => hsm.generateWrappedKey(kek)),
    );
    for (let round = 0; round < 25; round += 1) {
      const keys = await Promise.all(
        deks.map((dek) => hsm.unwrapDataKey(kek, dek)),
      );
      for (const key of keys) key.destroy();
    }
    await hsm
      .unwrapDataKey(kek, { ...deks[0]!, bytes: Buffer.alloc(40) })
      .catch(() => undefined);

    // Only the KEK stays while the adapter is open; nothing after close.
    expect(hsm.operationCount).toBe(2 + 1 + 40 + 500 + 1);
    expect(session.sessionKeys()).toHaveLength(baseline + 1);
    await hsm.close();
    expect(session.sessionKeys()).toHaveLength(baseline);
  });
});

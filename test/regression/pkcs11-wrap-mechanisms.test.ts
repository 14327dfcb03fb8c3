import { createCipheriv, randomBytes } from 'node:crypto';

import { isRekeyError, type WrapMechanism } from '@rekey/core';
import {
  describeMechanisms,
  inspectMechanism,
  loadedPkcs11Modules,
  Pkcs11Hsm,
} from '@rekey/pkcs11';
import pkcs11js from 'pkcs11js';
import { describe, expect, it } from 'vitest';

import { testToken } from '../support/hsm-env.js';
import {
  hsmOptions,
  newMasterKey,
  openHsm,
  TokenSession,
} from '../support/pkcs11-fixtures.js';
import { testEnv } from '../support/test-env.js';

/** The test case 16 of the GCM specification: AES-256, 96-bit IV, AAD. */
const gcm = {
  key: Buffer.from(
    'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
    'hex',
  ),
  iv: Buffer.from('cafebabefacedbaddecaf888', 'hex'),
  aad: Buffer.from('feedfacedeadbeeffeedfacedeadbeefabaddad2', 'hex'),
  plaintext: Buffer.from(
    'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
    'hex',
  ),
  ciphertext:
    '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
  tag: '76fc6ece0f4e1768cddf8853bb2d551b',
};

const nodeCiphers: Record<WrapMechanism, readonly [string, Buffer]> = {
  'aes-key-wrap': ['id-aes256-wrap', Buffer.from('A6A6A6A6A6A6A6A6', 'hex')],
  'aes-key-wrap-pad': ['id-aes256-wrap-pad', Buffer.from('A65959A6', 'hex')],
};

function nodeWrap(mechanism: WrapMechanism, kek: Buffer, key: Buffer): Buffer {
  const [name, iv] = nodeCiphers[mechanism];
  const cipher = createCipheriv(name, kek, iv);

  return Buffer.concat([cipher.update(key), cipher.final()]);
}

const ckms: Record<WrapMechanism, number> = {
  'aes-key-wrap': pkcs11js.CKM_AES_KEY_WRAP,
  'aes-key-wrap-pad': pkcs11js.CKM_AES_KEY_WRAP_PAD,
};

// Which AES key-wrap mechanisms a token offers depends on its build, and
// AES-CBC-PAD, which some tools wrap with, is refused by SoftHSM2's
// C_WrapKey.
describe('wrap mechanisms', () => {
  it('finds KW and KWP with wrap and unwrap flags, and AES key generation', async () => {
    const reports = await describeMechanisms({
      modulePath: testEnv.pkcs11Module,
      tokenLabel: testToken().label,
    });

    const byName = Object.fromEntries(reports.map((r) => [r.ckmName, r]));
    expect(byName.CKM_AES_KEY_WRAP_PAD).toMatchObject({
      ckm: 0x210a,
      available: true,
      capabilities: { wrap: true, unwrap: true },
      missing: [],
    });
    expect(byName.CKM_AES_KEY_WRAP).toMatchObject({
      ckm: 0x2109,
      available: true,
      capabilities: { wrap: true, unwrap: true },
      missing: [],
    });
    expect(byName.CKM_AES_KEY_GEN).toMatchObject({
      capabilities: { generate: true },
      missing: [],
    });
  });

  it('sees from the flags that AES-CBC-PAD and GCM cannot wrap on this token', async () => {
    await using session = TokenSession.open();

    for (const [ckm, ckmName] of [
      [pkcs11js.CKM_AES_CBC_PAD, 'CKM_AES_CBC_PAD'],
      [pkcs11js.CKM_AES_GCM, 'CKM_AES_GCM'],
    ] as const) {
      const report = inspectMechanism(session.module, session.slot, {
        ckm,
        ckmName,
        capabilities: ['wrap', 'unwrap'],
      });

      expect(report.available).toBe(true);
      expect(report.capabilities.encrypt).toBe(true);
      expect(report.missing).toEqual(['wrap', 'unwrap']);
    }
  });

  it('refuses at open a wrap mechanism it cannot use, saying which to use', async () => {
    const error = await Pkcs11Hsm.open(
      hsmOptions({ wrapMechanism: 'aes-cbc-pad' as WrapMechanism }),
    ).catch((e: unknown) => e);

    expect(isRekeyError(error, 'REKEY_HSM_MECHANISM_UNSUPPORTED')).toBe(true);
    expect((error as Error).message).toMatch(
      /'aes-key-wrap-pad', 'aes-key-wrap'/,
    );
    expect(loadedPkcs11Modules()).toEqual([]);
  });

  it.each(['aes-key-wrap', 'aes-key-wrap-pad'] as const)(
    'wraps a 32-byte key to 40 bytes with %s, as node:crypto does',
    async (mechanism) => {
      const masterLabel = await newMasterKey('mech');
      await using hsm = await openHsm({ wrapMechanism: mechanism });

      const kek = await hsm.generateWrappedKey({
        kind: 'master',
        label: masterLabel,
      });
      const dek = await hsm.generateWrappedKey({
        kind: 'kek',
        keyId: 31,
        masterLabel,
        wrapped: kek,
      });

      expect(kek).toMatchObject({ mechanism });
      expect(kek.bytes).toHaveLength(40);
      expect(dek).toMatchObject({ mechanism });
      expect(dek.bytes).toHaveLength(40);

      await using session = TokenSession.open();
      const kekValue = randomBytes(32);
      const keyValue = randomBytes(32);
      const wrappingKey = session.createKey(kekValue);
      const key = session.createKey(keyValue);
      const made = await session.wrap(ckms[mechanism], wrappingKey, key);
      session.destroy(key);
      session.destroy(wrappingKey);

      expect(made.toString('hex')).toBe(
        nodeWrap(mechanism, kekValue, keyValue).toString('hex'),
      );
    },
  );

  it('still unwraps keys wrapped with one mechanism after the configured one changed', async () => {
    const masterLabel = await newMasterKey('mech');
    const kwHsm = await openHsm({ wrapMechanism: 'aes-key-wrap' });
    const wrappedKek = await kwHsm.generateWrappedKey({
      kind: 'master',
      label: masterLabel,
    });
    const kek = {
      kind: 'kek' as const,
      keyId: 32,
      masterLabel,
      wrapped: wrappedKek,
    };
    const oldDek = await kwHsm.generateWrappedKey(kek);
    const oldBytes = Buffer.from(
      (await kwHsm.unwrapDataKey(kek, oldDek)).bytes,
    );
    await kwHsm.close();

    await using kwpHsm = await openHsm({ wrapMechanism: 'aes-key-wrap-pad' });
    const newDek = await kwpHsm.generateWrappedKey(kek);

    expect(wrappedKek.mechanism).toBe('aes-key-wrap');
    expect(oldDek.mechanism).toBe('aes-key-wrap');
    expect(newDek.mechanism).toBe('aes-key-wrap-pad');
    const again = await kwpHsm.unwrapDataKey(kek, oldDek);
    expect(again.bytes.equals(oldBytes)).toBe(true);
    expect((await kwpHsm.unwrapDataKey(kek, newDek)).bytes).toHaveLength(32);
  });

  it('unwraps a DEK that passes the GCM known-answer test under both mechanisms', async () => {
    const masterLabel = await newMasterKey('mech');
    const kekValue = randomBytes(32);
    await using session = TokenSession.open();
    const kekObject = session.createKey(kekValue);
    const wrappedKek = await session.wrap(
      pkcs11js.CKM_AES_KEY_WRAP_PAD,
      session.masterKey(masterLabel),
      kekObject,
    );
    session.destroy(kekObject);
    const kek = {
      kind: 'kek' as const,
      keyId: 33,
      masterLabel,
      wrapped: { mechanism: 'aes-key-wrap-pad' as const, bytes: wrappedKek },
    };
    await using hsm = await openHsm();

    for (const mechanism of ['aes-key-wrap', 'aes-key-wrap-pad'] as const) {
      const dek = await hsm.unwrapDataKey(kek, {
        mechanism,
        bytes: nodeWrap(mechanism, kekValue, gcm.key),
      });
      const cipher = createCipheriv('aes-256-gcm', dek.bytes, gcm.iv);
      cipher.setAAD(gcm.aad);
      const ciphertext = Buffer.concat([
        cipher.update(gcm.plaintext),
        cipher.final(),
      ]);

      expect(ciphertext.toString('hex')).toBe(gcm.ciphertext);
      expect(cipher.getAuthTag().toString('hex')).toBe(gcm.tag);
    }
  });
});

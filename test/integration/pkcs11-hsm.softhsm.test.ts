import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';

import { isRekeyError, type WrappingKey } from '@rekey/core';
import {
  ensureMasterKey,
  initTokenIfAbsent,
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
import { testEnv, uniqueName } from '../support/test-env.js';

/** RFC 3394 section 4.6: 256 bits of key data under a 256-bit KEK. */
const rfc3394 = {
  kek: Buffer.from(
    '000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F',
    'hex',
  ),
  keyData: Buffer.from(
    '00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F',
    'hex',
  ),
  ciphertext: Buffer.from(
    '28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21',
    'hex',
  ),
};

/** RFC 5649 section 6: both published vectors, under one 192-bit KEK. */
const rfc5649 = {
  kek: Buffer.from('5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8', 'hex'),
  vectors: [
    {
      key: Buffer.from('c37b7e6492584340bed12207808941155068f738', 'hex'),
      wrapped: Buffer.from(
        '138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a',
        'hex',
      ),
    },
    {
      key: Buffer.from('466f7250617369', 'hex'),
      wrapped: Buffer.from('afbeb0f07dfbf5419200f2ccb50bb24f', 'hex'),
    },
  ],
};

function nodeWrapPad(kek: Buffer, key: Buffer): Buffer {
  const cipher = createCipheriv(
    `id-aes${kek.length * 8}-wrap-pad`,
    kek,
    Buffer.from('A65959A6', 'hex'),
  );

  return Buffer.concat([cipher.update(key), cipher.final()]);
}

function nodeUnwrapPad(kek: Buffer, wrapped: Buffer): Buffer {
  const decipher = createDecipheriv(
    `id-aes${kek.length * 8}-wrap-pad`,
    kek,
    Buffer.from('A65959A6', 'hex'),
  );

  return Buffer.concat([decipher.update(wrapped), decipher.final()]);
}

/**
 * Puts a KEK of known value on the token, wrapped under `masterLabel` as
 * Rekey would store it, and returns the reference to pass the adapter.
 */
async function knownKek(
  session: TokenSession,
  masterLabel: string,
  value: Buffer,
): Promise<Extract<WrappingKey, { kind: 'kek' }>> {
  const kek = session.createKey(value);
  try {
    const bytes = await session.wrap(
      pkcs11js.CKM_AES_KEY_WRAP_PAD,
      session.masterKey(masterLabel),
      kek,
    );

    return {
      kind: 'kek',
      keyId: Math.floor(Math.random() * 1e9),
      masterLabel,
      wrapped: { mechanism: 'aes-key-wrap-pad', bytes },
    };
  } finally {
    session.destroy(kek);
  }
}

describe('Pkcs11Hsm on SoftHSM2', () => {
  it('creates the master key once, however often it is ensured', async () => {
    const label = uniqueName('master');
    const options = {
      modulePath: testEnv.pkcs11Module,
      tokenLabel: testToken().label,
      pin: testToken().pin,
      label,
    };

    const first = await ensureMasterKey(options);
    const concurrent = await Promise.all([
      ensureMasterKey(options),
      ensureMasterKey(options),
    ]);

    expect(first).toEqual({ created: true });
    expect(concurrent).toEqual([{ created: false }, { created: false }]);
    await using session = TokenSession.open();
    expect(
      session.find([
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_LABEL, value: label },
      ]),
    ).toHaveLength(1);
  });

  it('generates a KEK wrapped under the master key: 40 bytes with KWP', async () => {
    const masterLabel = await newMasterKey();
    await using hsm = await openHsm();

    const kek = await hsm.generateWrappedKey({
      kind: 'master',
      label: masterLabel,
    });

    expect(kek.mechanism).toBe('aes-key-wrap-pad');
    expect(kek.bytes).toHaveLength(40);
  });

  it('generates a DEK wrapped under the KEK and unwraps it to 32 bytes', async () => {
    const masterLabel = await newMasterKey();
    await using hsm = await openHsm();
    const wrappedKek = await hsm.generateWrappedKey({
      kind: 'master',
      label: masterLabel,
    });
    const kek = {
      kind: 'kek' as const,
      keyId: 1,
      masterLabel,
      wrapped: wrappedKek,
    };

    const wrappedDek = await hsm.generateWrappedKey(kek);
    const dek = await hsm.unwrapDataKey(kek, wrappedDek);
    const again = await hsm.unwrapDataKey(kek, wrappedDek);

    expect(wrappedDek.mechanism).toBe('aes-key-wrap-pad');
    expect(wrappedDek.bytes).toHaveLength(40);
    expect(wrappedDek.bytes.equals(wrappedKek.bytes)).toBe(false);
    expect(dek.bytes).toHaveLength(32);
    expect(again.bytes.equals(dek.bytes)).toBe(true);
    expect(inspect(dek)).not.toContain(dek.bytes.toString('hex'));
  });

  it('refuses altered wrapped bytes with REKEY_HSM_UNWRAP_FAILED', async () => {
    const masterLabel = await newMasterKey();
    await using hsm = await openHsm();
    const wrappedKek = await hsm.generateWrappedKey({
      kind: 'master',
      label: masterLabel,
    });
    const kek = {
      kind: 'kek' as const,
      keyId: 2,
      masterLabel,
      wrapped: wrappedKek,
    };
    const wrappedDek = await hsm.generateWrappedKey(kek);

    const flipped = Buffer.from(wrappedDek.bytes);
    flipped[17] = (flipped[17] ?? 0) ^ 0x01;
    const alteredKek = Buffer.from(wrappedKek.bytes);
    alteredKek[3] = (alteredKek[3] ?? 0) ^ 0x80;

    const attempts = [
      hsm.unwrapDataKey(kek, { ...wrappedDek, bytes: flipped }),
      hsm.unwrapDataKey(
        { ...kek, keyId: 3, wrapped: { ...wrappedKek, bytes: alteredKek } },
        wrappedDek,
      ),
      hsm.unwrapDataKey(kek, {
        ...wrappedDek,
        bytes: wrappedDek.bytes.subarray(0, 39),
      }),
    ];
    for (const attempt of attempts) {
      const error = await attempt.catch((e: unknown) => e);
      expect(isRekeyError(error, 'REKEY_HSM_UNWRAP_FAILED')).toBe(true);
      expect((error as { retryable: boolean }).retryable).toBe(false);
      expect(String((error as Error).message)).not.toContain(
        wrappedDek.bytes.toString('hex'),
      );
    }
  });

  it('refuses to unwrap a DEK under a master key, whose keys stay in the HSM', async () => {
    const masterLabel = await newMasterKey();
    await using hsm = await openHsm();
    const wrappedKek = await hsm.generateWrappedKey({
      kind: 'master',
      label: masterLabel,
    });

    const error = await hsm
      .unwrapDataKey({ kind: 'master', label: masterLabel }, wrappedKek)
      .catch((e: unknown) => e);

    expect(isRekeyError(error, 'REKEY_INPUT_INVALID')).toBe(true);
  });

  it('reports an absent master key as REKEY_HSM_KEY_NOT_FOUND', async () => {
    await using hsm = await openHsm();

    const error = await hsm
      .generateWrappedKey({ kind: 'master', label: uniqueName('absent') })
      .catch((e: unknown) => e);

    expect(isRekeyError(error, 'REKEY_HSM_KEY_NOT_FOUND')).toBe(true);
  });

  it('counts every generate, wrap and unwrap it asks of the HSM', async () => {
    const masterLabel = await newMasterKey();
    await using hsm = await openHsm();
    expect(hsm.operationCount).toBe(0);

    const wrappedKek = await hsm.generateWrappedKey({
      kind: 'master',
      label: masterLabel,
    });
    expect(hsm.operationCount).toBe(2); // generate + wrap

    const kek = {
      kind: 'kek' as const,
      keyId: 4,
      masterLabel,
      wrapped: wrappedKek,
    };
    const wrappedDek = await hsm.generateWrappedKey(kek);
    expect(hsm.operationCount).toBe(5); // + KEK unwrap + generate + wrap

    await hsm.unwrapDataKey(kek, wrappedDek);
    await hsm.unwrapDataKey(kek, wrappedDek);
    expect(hsm.operationCount).toBe(7); // the KEK stays unwrapped
  });

  it('returns the real key bytes: RFC 3394 vector through the adapter', async () => {
    const masterLabel = await newMasterKey();
    await using session = TokenSession.open();
    const kek = await knownKek(session, masterLabel, rfc3394.kek);
    await using hsm = await openHsm();

    const dek = await hsm.unwrapDataKey(kek, {
      mechanism: 'aes-key-wrap',
      bytes: rfc3394.ciphertext,
    });

    expect(dek.bytes.toString('hex')).toBe(rfc3394.keyData.toString('hex'));
  });

  it('returns the real key bytes: a node:crypto KWP wrap, both ways', async () => {
    const masterLabel = await newMasterKey();
    const kekValue = randomBytes(32);
    await using session = TokenSession.open();
    const kek = await knownKek(session, masterLabel, kekValue);
    await using hsm = await openHsm();

    const known = randomBytes(32);
    const unwrapped = await hsm.unwrapDataKey(kek, {
      mechanism: 'aes-key-wrap-pad',
      bytes: nodeWrapPad(kekValue, known),
    });
    const generated = await hsm.generateWrappedKey(kek);
    const generatedBytes = await hsm.unwrapDataKey(kek, generated);

    expect(unwrapped.bytes.equals(known)).toBe(true);
    expect(nodeUnwrapPad(kekValue, generated.bytes)).toEqual(
      generatedBytes.bytes,
    );
  });

  // SoftHSM2 2.6.1 unwraps both RFC 5649 vectors correctly, but its
  // C_WrapKey zero-pads a key whose length is not a multiple of 8 before
  // wrapping it as a longer key, so its own wraps of the 20- and 7-octet
  // vectors differ from the RFC. AES-256 keys (32 bytes) need no padding and
  // come out byte-identical to node:crypto (see the wrap-mechanism tests).
  it('unwraps the RFC 5649 vectors with the token, as node:crypto wraps them', async () => {
    for (const { key, wrapped } of rfc5649.vectors) {
      expect(nodeWrapPad(rfc5649.kek, key).toString('hex')).toBe(
        wrapped.toString('hex'),
      );
    }
    await using session = TokenSession.open();
    const kek = session.createKey(rfc5649.kek);
    try {
      for (const { key, wrapped } of rfc5649.vectors) {
        const back = await session.module.C_UnwrapKeyAsync(
          session.handle,
          { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD },
          kek,
          wrapped,
          [
            { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
            { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
            { type: pkcs11js.CKA_TOKEN, value: false },
            { type: pkcs11js.CKA_SENSITIVE, value: false },
            { type: pkcs11js.CKA_EXTRACTABLE, value: true },
          ],
        );
        const [value] = session.module.C_GetAttributeValue(
          session.handle,
          back,
          [{ type: pkcs11js.CKA_VALUE }],
        );
        session.destroy(back);

        expect(value?.value.toString('hex')).toBe(key.toString('hex'));
      }
    } finally {
      session.destroy(kek);
    }
  });

  it('answers a wrong PIN with REKEY_HSM_PIN_INCORRECT, never showing the PIN', async () => {
    // Login belongs to the application: with anyone in this process logged
    // in, the token would not check the PIN at all.
    expect(loadedPkcs11Modules()).toEqual([]);
    const wrongPin = 'wrong-pin-9517';

    const error = await Pkcs11Hsm.open(hsmOptions({ pin: wrongPin })).catch(
      (e: unknown) => e,
    );

    expect(isRekeyError(error, 'REKEY_HSM_PIN_INCORRECT')).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(false);
    expect((error as { details: unknown }).details).toMatchObject({
      ckr: 'CKR_PIN_INCORRECT',
      ckrCode: 0xa0,
    });
    for (const dump of [
      String((error as Error).message),
      JSON.stringify(error),
      inspect(error, { depth: 10 }),
      String((error as Error).stack),
    ]) {
      expect(dump).not.toContain(wrongPin);
    }
    expect(loadedPkcs11Modules()).toEqual([]);
  });

  it('answers an unknown token label with REKEY_HSM_TOKEN_NOT_FOUND', async () => {
    const error = await Pkcs11Hsm.open(
      hsmOptions({ tokenLabel: 'no-such-token' }),
    ).catch((e: unknown) => e);

    expect(isRekeyError(error, 'REKEY_HSM_TOKEN_NOT_FOUND')).toBe(true);
    expect((error as Error).message).toContain(`"${testToken().label}"`);
    expect((error as Error).message).not.toContain(testToken().pin);
    expect(loadedPkcs11Modules()).toEqual([]);
  });

  it('answers a missing library with REKEY_HSM_MODULE_UNAVAILABLE', async () => {
    const error = await Pkcs11Hsm.open(
      hsmOptions({ modulePath: '/nonexistent/libpkcs11.so' }),
    ).catch((e: unknown) => e);

    expect(isRekeyError(error, 'REKEY_HSM_MODULE_UNAVAILABLE')).toBe(true);
  });

  it('refuses work after close, as retryable, and closes twice safely', async () => {
    const masterLabel = await newMasterKey();
    const hsm = await openHsm();
    await hsm.close();
    await hsm.close();

    const error = await hsm
      .generateWrappedKey({ kind: 'master', label: masterLabel })
      .catch((e: unknown) => e);

    expect(isRekeyError(error, 'REKEY_HSM_SESSION_LOST')).toBe(true);
    expect(loadedPkcs11Modules()).toEqual([]);
  });
});

describe('token administration on SoftHSM2', () => {
  it('initialises a token in a free slot once, ready for the adapter', async () => {
    const label = uniqueName('tok');
    const options = {
      modulePath: testEnv.pkcs11Module,
      label,
      soPin: 'so-2468',
      pin: 'user-1357',
    };

    const first = await initTokenIfAbsent(options);
    const second = await initTokenIfAbsent(options);
    await ensureMasterKey({
      modulePath: testEnv.pkcs11Module,
      tokenLabel: label,
      pin: options.pin,
      label: 'master',
    });
    await using hsm = await Pkcs11Hsm.open({
      modulePath: testEnv.pkcs11Module,
      tokenLabel: label,
      pin: options.pin,
    });
    const kek = await hsm.generateWrappedKey({
      kind: 'master',
      label: 'master',
    });

    expect(first).toEqual({ created: true });
    expect(second).toEqual({ created: false });
    expect(kek.bytes).toHaveLength(40);
  });

  it('refuses a token label PKCS#11 cannot hold', async () => {
    const error = await initTokenIfAbsent({
      modulePath: testEnv.pkcs11Module,
      label: 'x'.repeat(33),
      soPin: 'so-2468',
      pin: 'user-1357',
    }).catch((e: unknown) => e);

    expect(isRekeyError(error, 'REKEY_CONFIG_INVALID')).toBe(true);
  });

  it('refuses to take a key that only shares the label as a master key', async () => {
    const label = uniqueName('unfit');
    await using session = TokenSession.open();
    const unfit = session.module.C_CreateObject(session.handle, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: false },
      { type: pkcs11js.CKA_EXTRACTABLE, value: true },
      { type: pkcs11js.CKA_WRAP, value: true },
      { type: pkcs11js.CKA_UNWRAP, value: true },
      { type: pkcs11js.CKA_LABEL, value: label },
      { type: pkcs11js.CKA_VALUE, value: randomBytes(32) },
    ]);
    try {
      const ensured = await ensureMasterKey({
        modulePath: testEnv.pkcs11Module,
        tokenLabel: testToken().label,
        pin: testToken().pin,
        label,
      }).catch((e: unknown) => e);
      await using hsm = await openHsm();
      const used = await hsm
        .generateWrappedKey({ kind: 'master', label })
        .catch((e: unknown) => e);

      for (const error of [ensured, used]) {
        expect(isRekeyError(error, 'REKEY_HSM_KEY_NOT_FOUND')).toBe(true);
        expect((error as Error).message).toMatch(/not sensitive, extractable/);
      }
    } finally {
      session.destroy(unfit);
    }
  });
});

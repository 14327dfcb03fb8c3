import { realpathSync } from 'node:fs';

import { loadedPkcs11Modules } from '@rekey/pkcs11';
import pkcs11js from 'pkcs11js';
import { describe, expect, it } from 'vitest';

import { newMasterKey, openHsm } from '../support/pkcs11-fixtures.js';
import { testEnv } from '../support/test-env.js';

// C_Initialize acts on the whole process: a second initialiser gets
// CKR_CRYPTOKI_ALREADY_INITIALIZED, and one user's C_Finalize breaks every
// other user of the library.
describe('several PKCS#11 users in one process', () => {
  it('opens two adapters at once, 20 times; closing one leaves the other working', async () => {
    const masterLabel = await newMasterKey('shared');
    await using setup = await openHsm();
    const wrappedKek = await setup.generateWrappedKey({
      kind: 'master',
      label: masterLabel,
    });
    const kek = {
      kind: 'kek' as const,
      keyId: 11,
      masterLabel,
      wrapped: wrappedKek,
    };
    const wrappedDek = await setup.generateWrappedKey(kek);
    const expected = (await setup.unwrapDataKey(kek, wrappedDek)).bytes;
    await setup.close();
    expect(loadedPkcs11Modules()).toEqual([]);

    for (let round = 0; round < 20; round += 1) {
      const [first, second] = await Promise.all([openHsm(), openHsm()]);
      expect(loadedPkcs11Modules()).toEqual([
        {
          modulePath: realpathSync(testEnv.pkcs11Module),
          users: 2,
          initialisedHere: true,
        },
      ]);
      await first.unwrapDataKey(kek, wrappedDek);

      // The second keeps working while, and after, the first closes.
      const during = Array.from({ length: 8 }, () =>
        second.unwrapDataKey(kek, wrappedDek),
      );
      await first.close();
      const after = await second.unwrapDataKey(kek, wrappedDek);
      for (const key of await Promise.all(during)) {
        expect(key.bytes.equals(expected)).toBe(true);
      }
      expect(after.bytes.equals(expected)).toBe(true);
      expect(loadedPkcs11Modules()[0]?.users).toBe(1);

      await second.close();
      expect(loadedPkcs11Modules()).toEqual([]);
    }
  });

  it('never finalises a library that someone else in the process initialised', async () => {
    const masterLabel = await newMasterKey('foreign');
    const foreign = new pkcs11js.PKCS11();
    foreign.load(testEnv.pkcs11Module);
    foreign.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    try {
      const hsm = await openHsm();
      expect(loadedPkcs11Modules()[0]?.initialisedHere).toBe(false);
      await hsm.generateWrappedKey({ kind: 'master', label: masterLabel });
      await hsm.close();

      // Still initialised: a C_Finalize would make this fail with
      // CKR_CRYPTOKI_NOT_INITIALIZED.
      expect(foreign.C_GetSlotList(true).length).toBeGreaterThan(0);
    } finally {
      foreign.C_Finalize();
      foreign.close();
    }
  });
});

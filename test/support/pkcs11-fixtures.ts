import {
  acquirePkcs11Module,
  ensureMasterKey,
  Pkcs11Hsm,
  type Pkcs11HsmOptions,
  type Pkcs11Attribute,
  type Pkcs11Handle,
  type Pkcs11ModuleLease,
  requireTokenSlot,
} from '@rekey/pkcs11';
import pkcs11js from 'pkcs11js';

import { testToken } from './hsm-env.js';
import { testEnv, uniqueName } from './test-env.js';

/** Options that open the run's test token. */
export function hsmOptions(
  overrides: Partial<Pkcs11HsmOptions> = {},
): Pkcs11HsmOptions {
  const token = testToken();

  return {
    modulePath: testEnv.pkcs11Module,
    tokenLabel: token.label,
    pin: token.pin,
    ...overrides,
  };
}

/** Opens an adapter on the test token; use with `await using`. */
export function openHsm(
  overrides: Partial<Pkcs11HsmOptions> = {},
): Promise<Pkcs11Hsm> {
  return Pkcs11Hsm.open(hsmOptions(overrides));
}

/** Makes a master key with a label unique to the calling test. */
export async function newMasterKey(prefix = 'master'): Promise<string> {
  const label = uniqueName(prefix);
  await ensureMasterKey({
    modulePath: testEnv.pkcs11Module,
    tokenLabel: testToken().label,
    pin: testToken().pin,
    label,
  });

  return label;
}

/**
 * A logged-in session of the test's own on the shared module, to inspect
 * and prepare the token beside the adapter. Session objects of every
 * session in this process are visible from it.
 */
export class TokenSession implements AsyncDisposable {
  readonly lease: Pkcs11ModuleLease;
  readonly slot: Pkcs11Handle;
  readonly handle: Pkcs11Handle;

  private constructor(lease: Pkcs11ModuleLease) {
    this.lease = lease;
    this.slot = requireTokenSlot(lease.module, testToken().label);
    this.handle = lease.module.C_OpenSession(
      this.slot,
      pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION,
    );
    try {
      lease.module.C_Login(this.handle, pkcs11js.CKU_USER, testToken().pin);
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw error;
    }
  }

  /** Opens a logged-in read-write session on the test token. */
  static open(): TokenSession {
    return new TokenSession(acquirePkcs11Module(testEnv.pkcs11Module));
  }

  get module(): Pkcs11ModuleLease['module'] {
    return this.lease.module;
  }

  /** Handles of the objects matching `template`. */
  find(template: Pkcs11Attribute[]): Pkcs11Handle[] {
    this.module.C_FindObjectsInit(this.handle, template);
    try {
      return this.module.C_FindObjects(this.handle, 10_000);
    } finally {
      this.module.C_FindObjectsFinal(this.handle);
    }
  }

  /** The secret-key session objects of this process. */
  sessionKeys(): Pkcs11Handle[] {
    return this.find([
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_TOKEN, value: false },
    ]);
  }

  /** The master key with this label. */
  masterKey(label: string): Pkcs11Handle {
    const [key] = this.find([
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]);
    if (key === undefined) throw new Error(`no master key "${label}"`);

    return key;
  }

  /** A session-object secret key with a known value, for known-answer tests. */
  createKey(value: Buffer, keyType: number = pkcs11js.CKK_AES): Pkcs11Handle {
    return this.module.C_CreateObject(this.handle, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: keyType },
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: false },
      { type: pkcs11js.CKA_EXTRACTABLE, value: true },
      { type: pkcs11js.CKA_WRAP, value: true },
      { type: pkcs11js.CKA_UNWRAP, value: true },
      { type: pkcs11js.CKA_ENCRYPT, value: false },
      { type: pkcs11js.CKA_DECRYPT, value: false },
      { type: pkcs11js.CKA_VALUE, value },
    ]);
  }

  /** Wraps `key` under `wrappingKey` with the given CKM_* mechanism. */
  wrap(
    mechanism: number,
    wrappingKey: Pkcs11Handle,
    key: Pkcs11Handle,
  ): Promise<Buffer> {
    return this.module.C_WrapKeyAsync(
      this.handle,
      { mechanism },
      wrappingKey,
      key,
      Buffer.alloc(4096),
    );
  }

  destroy(object: Pkcs11Handle): void {
    this.module.C_DestroyObject(this.handle, object);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.module.C_CloseSession(this.handle);
    } finally {
      this.lease.release();
    }
  }
}

/** The CKR code of a pkcs11js failure, for assertions. */
export function ckrOf(run: () => unknown): Promise<number | undefined> {
  return Promise.resolve()
    .then(run)
    .then(
      () => undefined,
      (error: unknown) => (error as { code?: number }).code,
    );
}

import {
  type HsmPort,
  KeyMaterial,
  RekeyError,
  type WrappedKey,
  type WrappingKey,
} from '@rekey/core';
import pkcs11js from 'pkcs11js';

import { KekCache } from './kek-cache.js';
import {
  aesKeyBytes,
  dekGenerateTemplate,
  dekReadTemplate,
  kekGenerateTemplate,
} from './key-templates.js';
import { requireMasterKey } from './master-key.js';
import {
  hasReturnCode,
  isSessionFailure,
  pkcs11Call,
  pkcs11CallSync,
  sessionLostAfterRetry,
  translatePkcs11Error,
} from './pkcs11-errors.js';
import {
  type Pkcs11HsmOptions,
  type ResolvedPkcs11HsmOptions,
  resolvePkcs11HsmOptions,
} from './pkcs11-hsm-options.js';
import type {
  Pkcs11Attribute,
  Pkcs11Handle,
  Pkcs11Module,
} from './pkcs11-module.js';
import {
  acquirePkcs11Module,
  type Pkcs11ModuleLease,
} from './pkcs11-module-registry.js';
import { type PooledSession, SessionPool } from './session-pool.js';
import { findToken, requireTokenSlot } from './token-slots.js';
import { requireMechanisms } from './wrap-mechanisms.js';
import { checkedWrap, checkWrappingKey } from './wrapped-key-checks.js';

interface Pkcs11HsmParts {
  readonly lease: Pkcs11ModuleLease;
  readonly slot: Pkcs11Handle;
  readonly config: ResolvedPkcs11HsmOptions;
  readonly pin: string;
}

/** At most this many clean-up failures are kept for {@link Pkcs11Hsm.close}. */
const keptCleanupFailures = 8;

/**
 * The HSM port on a PKCS#11 token, through pkcs11js.
 *
 * - The master key stays on the token; KEKs are generated in the HSM,
 *   wrapped under it and stored wrapped; DEKs are generated in the HSM,
 *   wrapped under a KEK, and unwrapped only to hand their bytes to the row
 *   cipher, the one place key bytes leave the HSM.
 * - Each KEK is unwrapped once into a non-extractable session object and
 *   kept until {@link Pkcs11Hsm.close}; every other object is destroyed as
 *   soon as it has served.
 * - Operations run on a small pool of logged-in sessions with the async
 *   pkcs11js calls, off the event loop. When the HSM invalidates sessions
 *   (reset, logout, device removed) the adapter reopens them, logs in again
 *   and repeats the operation once; a second failure is the retryable
 *   `REKEY_HSM_SESSION_LOST`.
 * - The module is shared with every other user in the process and
 *   finalised only by the last one. The adapter never calls `C_Logout` or
 *   `C_CloseAllSessions`, which would end the other users' sessions too.
 *
 * Known shortcoming: login belongs to the application in PKCS#11, so while
 * another user of the same module in this process is logged in to the
 * token, `C_Login` answers CKR_USER_ALREADY_LOGGED_IN without checking the
 * PIN, and a wrong PIN goes unnoticed until that user logs out. Only a PIN
 * check outside the shared login (a separate process) would remove it.
 *
 * Known shortcoming: the master key may unwrap under any template, so a
 * logged-in user of the token could unwrap a stored KEK as extractable.
 * CKA_UNWRAP_TEMPLATE on the master key would pin the unwrapped attributes,
 * but pkcs11js 2.1.7 cannot pass a nested template.
 */
export class Pkcs11Hsm implements HsmPort, AsyncDisposable {
  readonly #lease: Pkcs11ModuleLease;
  readonly #module: Pkcs11Module;
  readonly #config: ResolvedPkcs11HsmOptions;
  readonly #pin: string;
  readonly #sessions: SessionPool;
  #slot: Pkcs11Handle;

  readonly #keks: KekCache;
  /** Master key handles of the current generation, by label. */
  readonly #masterKeys = new Map<string, Pkcs11Handle>();
  /** Sessions to close instead of reuse: an object in them outlived use. */
  readonly #tainted = new WeakSet<PooledSession>();

  readonly #inFlight = new Set<Promise<void>>();
  readonly #cleanupFailures: unknown[] = [];
  #closing: Promise<void> | undefined;
  #operationCount = 0;

  private constructor(parts: Pkcs11HsmParts) {
    this.#lease = parts.lease;
    this.#module = parts.lease.module;
    this.#config = parts.config;
    this.#pin = parts.pin;
    this.#slot = parts.slot;
    this.#sessions = new SessionPool({
      open: () => this.#openSession(),
      close: (handle) => this.#closeSession(handle),
      maxSessions: parts.config.maxSessions,
    });
    this.#keks = new KekCache({
      module: this.#module,
      generation: () => this.#sessions.generation,
      openSession: () => this.#openSession(),
      closeSession: (handle) => this.#closeSession(handle),
      masterKey: (session, label) => this.#masterKey(session, label),
      countOperation: () => {
        this.#operationCount += 1;
      },
      keepCleanupFailure: (error) => this.#keepCleanupFailure(error),
    });
  }

  /**
   * Loads (or shares) the PKCS#11 module, finds the token by label, checks
   * that it offers CKM_AES_KEY_GEN and the wrap mechanism with wrap and
   * unwrap flags, and logs in.
   *
   * @param options - module, token, PIN and wrap mechanism
   * @returns an open adapter; close it when done
   * @throws RekeyError `REKEY_CONFIG_INVALID`, `REKEY_HSM_MODULE_UNAVAILABLE`,
   *   `REKEY_HSM_TOKEN_NOT_FOUND`, `REKEY_HSM_MECHANISM_UNSUPPORTED`,
   *   `REKEY_HSM_PIN_INCORRECT` or `REKEY_HSM_PIN_LOCKED`
   */
  static async open(options: Pkcs11HsmOptions): Promise<Pkcs11Hsm> {
    const { config, pin } = resolvePkcs11HsmOptions(options);

    const lease = acquirePkcs11Module(config.modulePath);
    try {
      const slot = requireTokenSlot(lease.module, config.tokenLabel);
      requireMechanisms(lease.module, slot, config.wrap);

      const hsm = new Pkcs11Hsm({ lease, slot, config, pin });
      // The first session proves the PIN and stays open in the pool.
      hsm.#sessions.release(await hsm.#sessions.acquire());

      return hsm;
    } catch (error) {
      releaseAfterFailedOpen(lease);
      throw error;
    }
  }

  /** PKCS#11 key operations (generate, wrap, unwrap) made so far. */
  get operationCount(): number {
    return this.#operationCount;
  }

  /** The mechanism new keys are wrapped with. */
  get wrapMechanism(): WrappedKey['mechanism'] {
    return this.#config.wrap.mechanism;
  }

  /**
   * Generates an AES-256 key in the HSM and returns it wrapped: a KEK under
   * a master key (`{ kind: 'master' }`), or a DEK under a KEK
   * (`{ kind: 'kek' }`). The generated key is a session object, destroyed
   * as soon as it is wrapped.
   *
   * @param under - the key to wrap the new key under
   * @returns the wrapped key, naming the configured mechanism
   * @throws RekeyError `REKEY_HSM_KEY_NOT_FOUND` when the master key is
   *   absent, `REKEY_HSM_UNWRAP_FAILED` when the KEK's wrapped bytes are
   *   damaged, `REKEY_HSM_SESSION_LOST` (retryable) when the HSM stays
   *   unreachable, or another HSM code
   */
  generateWrappedKey(under: WrappingKey): Promise<WrappedKey> {
    return this.#track(async () => {
      checkWrappingKey(under);

      return this.#withSession(async (session) => {
        const wrappingKey =
          under.kind === 'master'
            ? this.#masterKey(session.handle, under.label)
            : await this.#keks.get(under);
        const template =
          under.kind === 'master'
            ? kekGenerateTemplate()
            : dekGenerateTemplate();

        return this.#generateAndWrap(session, wrappingKey, template);
      });
    });
  }

  /**
   * Unwraps a DEK under its KEK, reads its bytes and destroys the unwrapped
   * object. The DEK is unwrapped with the mechanism `wrapped` names.
   *
   * @param under - the DEK's KEK; a master key wraps only KEKs, whose bytes
   *   never leave the HSM, so `{ kind: 'master' }` is refused
   * @param wrapped - the wrapped DEK
   * @returns the DEK's bytes
   * @throws RekeyError `REKEY_HSM_UNWRAP_FAILED` when `wrapped` (or the
   *   KEK's wrap) was altered or made under another key,
   *   `REKEY_INPUT_INVALID` for a master key, `REKEY_HSM_SESSION_LOST`
   *   (retryable) when the HSM stays unreachable, or another HSM code
   */
  unwrapDataKey(under: WrappingKey, wrapped: WrappedKey): Promise<KeyMaterial> {
    return this.#track(async () => {
      checkWrappingKey(under);
      if (under.kind !== 'kek') {
        throw new RekeyError(
          'REKEY_INPUT_INVALID',
          'a DEK is unwrapped under its KEK, not under a master key: a master key wraps only KEKs, whose bytes never leave the HSM',
          { details: { kind: under.kind } },
        );
      }
      const spec = checkedWrap(wrapped, 'dek');

      return this.#withSession(async (session) => {
        const kek = await this.#keks.get(under);

        this.#operationCount += 1;
        const dek = await pkcs11Call('C_UnwrapKey', () =>
          this.#module.C_UnwrapKeyAsync(
            session.handle,
            { mechanism: spec.ckm },
            kek,
            wrapped.bytes,
            dekReadTemplate(),
          ),
        );
        try {
          return this.#readKeyMaterial(session.handle, dek);
        } finally {
          this.#destroy(session, dek);
        }
      });
    });
  }

  /**
   * Waits for the operations under way, destroys the KEK objects, closes
   * the sessions and releases the module, which the last user finalises.
   * Every step runs even if one fails. Safe to call twice.
   *
   * @throws RekeyError `REKEY_HSM_OPERATION_FAILED` when a clean-up step
   *   failed; the failures are in its cause
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();

    return this.#closing;
  }

  /** Closes the adapter at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Keeps secrets and handles out of `util.inspect` and log lines. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Pkcs11Hsm { tokenLabel: ${JSON.stringify(this.#config.tokenLabel)} }`;
  }

  /** What `JSON.stringify` shows of the adapter: its token, nothing else. */
  toJSON(): { readonly tokenLabel: string } {
    return { tokenLabel: this.#config.tokenLabel };
  }

  async #generateAndWrap(
    session: PooledSession,
    wrappingKey: Pkcs11Handle,
    template: Pkcs11Attribute[],
  ): Promise<WrappedKey> {
    const spec = this.#config.wrap;

    this.#operationCount += 1;
    const key = await pkcs11Call('C_GenerateKey', () =>
      this.#module.C_GenerateKeyAsync(
        session.handle,
        { mechanism: pkcs11js.CKM_AES_KEY_GEN },
        template,
      ),
    );

    let bytes: Buffer;
    try {
      this.#operationCount += 1;
      bytes = await pkcs11Call('C_WrapKey', () =>
        this.#module.C_WrapKeyAsync(
          session.handle,
          { mechanism: spec.ckm },
          wrappingKey,
          key,
          Buffer.alloc(spec.wrappedBytes(aesKeyBytes)),
        ),
      );
    } finally {
      this.#destroy(session, key);
    }

    return Object.freeze({
      mechanism: spec.mechanism,
      bytes: Buffer.from(bytes),
    });
  }

  #readKeyMaterial(session: Pkcs11Handle, key: Pkcs11Handle): KeyMaterial {
    const [attribute] = pkcs11CallSync('C_GetAttributeValue', () =>
      this.#module.C_GetAttributeValue(session, key, [
        { type: pkcs11js.CKA_VALUE },
      ]),
    );
    const value = attribute?.value ?? Buffer.alloc(0);
    if (value.length !== aesKeyBytes) {
      value.fill(0);
      throw new RekeyError(
        'REKEY_HSM_UNWRAP_FAILED',
        `the unwrapped key has ${value.length} bytes where a DEK has ${aesKeyBytes}: the wrapped bytes hold another kind of key; restore them from a trusted copy`,
        { details: { keyBytes: value.length } },
      );
    }

    // A copy the caller owns; the binding's buffer is wiped.
    const bytes = Buffer.alloc(aesKeyBytes);
    value.copy(bytes);
    value.fill(0);

    return new KeyMaterial(bytes);
  }

  /** The master key's handle, found by label once per generation. */
  #masterKey(session: Pkcs11Handle, label: string): Pkcs11Handle {
    const cached = this.#masterKeys.get(label);
    if (cached !== undefined) return cached;

    const key = requireMasterKey(this.#module, session, label);
    this.#masterKeys.set(label, key);

    return key;
  }

  /**
   * Runs `operation` on a pooled session. When it fails because the HSM
   * dropped the session or the login, the pool starts a new generation and
   * the operation runs once more on a fresh, logged-in session.
   */
  async #withSession<T>(
    operation: (session: PooledSession) => Promise<T>,
  ): Promise<T> {
    let lastFailure: RekeyError | undefined;
    for (let attempt = 1; attempt <= 2; attempt += 1) {
      const generation = this.#sessions.generation;
      let session: PooledSession | undefined;
      try {
        session = await this.#sessions.acquire();

        return await operation(session);
      } catch (error) {
        if (!isSessionFailure(error)) throw error;
        lastFailure = error as RekeyError;
        this.#reset(session?.generation ?? generation);
      } finally {
        if (session !== undefined) this.#giveBack(session);
      }
    }

    throw sessionLostAfterRetry(lastFailure);
  }

  #giveBack(session: PooledSession): void {
    if (this.#tainted.has(session)) {
      this.#sessions.discard(session);
    } else {
      this.#sessions.release(session);
    }
  }

  /**
   * Forgets every session, handle and KEK object of `generation`, if it is
   * still the current one, and finds the token's slot again: slot ids can
   * change when a token is reset.
   */
  #reset(generation: number): void {
    if (!this.#sessions.reset(generation)) return;

    this.#masterKeys.clear();
    this.#keks.reset();
    try {
      const token = findToken(this.#module, this.#config.tokenLabel);
      if (token !== undefined) this.#slot = token.slot;
    } catch {
      // The old slot stays; opening a session on it reports the failure.
    }
  }

  /**
   * Destroys a session object that has served. If that fails, the session
   * is closed instead of reused: closing a session destroys its objects.
   */
  #destroy(session: PooledSession, object: Pkcs11Handle): void {
    try {
      this.#module.C_DestroyObject(session.handle, object);
    } catch {
      this.#tainted.add(session);
    }
  }

  #openSession(): Pkcs11Handle {
    // Read-only sessions: the adapter makes session objects only, and a
    // read-only session cannot create or destroy anything on the token.
    const handle = pkcs11CallSync('C_OpenSession', () =>
      this.#module.C_OpenSession(this.#slot, pkcs11js.CKF_SERIAL_SESSION),
    );
    try {
      this.#module.C_Login(handle, pkcs11js.CKU_USER, this.#pin);
    } catch (error) {
      if (!hasReturnCode(error, pkcs11js.CKR_USER_ALREADY_LOGGED_IN)) {
        this.#closeSession(handle);
        throw translatePkcs11Error(error, 'C_Login');
      }
    }

    return handle;
  }

  /**
   * Closes one session. A session the HSM already dropped fails to close,
   * which is expected; other failures are kept for {@link Pkcs11Hsm.close}.
   */
  #closeSession(handle: Pkcs11Handle): void {
    try {
      this.#module.C_CloseSession(handle);
    } catch (error) {
      const translated = translatePkcs11Error(error, 'C_CloseSession');
      if (!isSessionFailure(translated)) this.#keepCleanupFailure(translated);
    }
  }

  #keepCleanupFailure(error: unknown): void {
    if (this.#cleanupFailures.length < keptCleanupFailures) {
      this.#cleanupFailures.push(error);
    }
  }

  #track<T>(run: () => Promise<T>): Promise<T> {
    if (this.#closing !== undefined) {
      return Promise.reject(
        new RekeyError(
          'REKEY_HSM_SESSION_LOST',
          'the PKCS#11 adapter was closed: open a new one; the work may be retried',
          { details: { closed: true } },
        ),
      );
    }

    const operation = run();
    const settled = operation.then(
      () => undefined,
      () => undefined,
    );
    this.#inFlight.add(settled);
    void settled.then(() => this.#inFlight.delete(settled));

    return operation;
  }

  async #shutdown(): Promise<void> {
    await Promise.all(this.#inFlight);

    // Every step runs, whatever the one before it did.
    try {
      await this.#keks.close();
    } catch (error) {
      this.#keepCleanupFailure(error);
    }
    for (const step of [
      () => this.#sessions.close(),
      () => this.#lease.release(),
    ]) {
      try {
        step();
      } catch (error) {
        this.#keepCleanupFailure(error);
      }
    }

    const failures = this.#cleanupFailures.splice(0);
    if (failures.length === 0) return;

    throw new RekeyError(
      'REKEY_HSM_OPERATION_FAILED',
      `closing the PKCS#11 adapter: ${failures.length} clean-up steps failed (see the cause); every step ran and the module reference was released`,
      {
        cause: new AggregateError(failures, 'PKCS#11 clean-up failures'),
        details: { failedSteps: failures.length },
      },
    );
  }
}

/**
 * Gives back the module reference taken by a failed open. A failure of
 * that `C_Finalize` is not reported: the caller acts on the failure of the
 * open, and a module no one uses any more has no other user to harm.
 */
function releaseAfterFailedOpen(lease: Pkcs11ModuleLease): void {
  try {
    lease.release();
  } catch {
    // see above
  }
}

import { createHash } from 'node:crypto';

import { RekeyError, type WrappingKey } from '@rekey/core';

import { kekUnwrapTemplate } from './key-templates.js';
import {
  isSessionFailure,
  pkcs11Call,
  translatePkcs11Error,
} from './pkcs11-errors.js';
import type { Pkcs11Handle, Pkcs11Module } from './pkcs11-module.js';
import { checkedWrap } from './wrapped-key-checks.js';

/** A KEK as the port names it: wrapped under a master key. */
export type KekReference = Extract<WrappingKey, { kind: 'kek' }>;

/** What the cache needs from the adapter that owns it. */
export interface KekCacheOptions {
  readonly module: Pkcs11Module;
  /** The session pool's current generation. */
  readonly generation: () => number;
  /** Opens and logs in a session; throws a translated error. */
  readonly openSession: () => Pkcs11Handle;
  /** Closes a session; must not throw. */
  readonly closeSession: (handle: Pkcs11Handle) => void;
  /** The handle of the master key with this label. */
  readonly masterKey: (session: Pkcs11Handle, label: string) => Pkcs11Handle;
  /** Called before each PKCS#11 key operation. */
  readonly countOperation: () => void;
  /** Keeps a clean-up failure for the adapter's close. */
  readonly keepCleanupFailure: (error: unknown) => void;
}

interface KeySession {
  readonly handle: Pkcs11Handle;
  readonly generation: number;
}

/**
 * The KEKs unwrapped into session objects: each once per generation of
 * sessions, kept until the adapter closes or the HSM drops its sessions.
 *
 * The objects belong to one session of their own, which the pool never
 * lends out, because a session object dies with the session that created
 * it. That session runs one call at a time, as PKCS#11 requires.
 *
 * @internal
 */
export class KekCache {
  readonly #options: KekCacheOptions;
  readonly #unwrapped = new Map<string, Promise<Pkcs11Handle>>();
  readonly #objects = new Set<Pkcs11Handle>();
  #keySession: KeySession | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: KekCacheOptions) {
    this.#options = options;
  }

  /**
   * The KEK's session object, unwrapped under its master key with the
   * mechanism its wrap names, on first use.
   *
   * @param kek - the KEK as stored
   * @throws RekeyError `REKEY_HSM_UNWRAP_FAILED` (with `keyId` in its
   *   details) when the KEK's wrap is damaged, or another HSM code
   */
  get(kek: KekReference): Promise<Pkcs11Handle> {
    const cacheKey = `${kek.keyId}:${fingerprint(kek)}`;

    const cached = this.#unwrapped.get(cacheKey);
    if (cached !== undefined) return cached;

    const unwrapping = this.#onKeySession((session) =>
      this.#unwrap(session, kek),
    );
    this.#unwrapped.set(cacheKey, unwrapping);
    // A failed unwrap is not kept, so the next use tries again; the caller
    // gets the failure from `unwrapping` itself.
    unwrapping.catch(() => {
      if (this.#unwrapped.get(cacheKey) === unwrapping) {
        this.#unwrapped.delete(cacheKey);
      }
    });

    return unwrapping;
  }

  /**
   * Forgets the KEKs of the old generation and retires its key session,
   * after the call running on it, if any.
   */
  reset(): void {
    this.#unwrapped.clear();
    this.#queue = this.#queue.then(() => {
      // A call queued earlier may already have replaced the stale session.
      if (this.#keySession?.generation !== this.#options.generation()) {
        this.#retireKeySession();
      }
    });
  }

  /**
   * Destroys the KEK objects and closes their session, once the calls
   * queued on it are done. Failures go to `keepCleanupFailure`.
   */
  async close(): Promise<void> {
    await this.#queue;

    this.#destroyObjects();
    this.#retireKeySession();
  }

  async #unwrap(session: KeySession, kek: KekReference): Promise<Pkcs11Handle> {
    const spec = checkedWrap(kek.wrapped, 'kek');
    const { module } = this.#options;
    const master = this.#options.masterKey(session.handle, kek.masterLabel);

    this.#options.countOperation();
    let handle: Pkcs11Handle;
    try {
      handle = await pkcs11Call('C_UnwrapKey', () =>
        module.C_UnwrapKeyAsync(
          session.handle,
          { mechanism: spec.ckm },
          master,
          kek.wrapped.bytes,
          kekUnwrapTemplate(),
        ),
      );
    } catch (error) {
      throw withKekDetails(error, kek.keyId);
    }

    // An object of a stale session dies when that session is retired.
    if (session.generation === this.#options.generation()) {
      this.#objects.add(handle);
    }

    return handle;
  }

  /** Runs `work` on the key session, one call at a time. */
  #onKeySession<T>(work: (session: KeySession) => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => work(this.#currentKeySession()));
    this.#queue = run.catch(() => undefined);

    return run;
  }

  #currentKeySession(): KeySession {
    const generation = this.#options.generation();
    if (this.#keySession?.generation === generation) return this.#keySession;

    this.#retireKeySession();
    this.#keySession = Object.freeze({
      handle: this.#options.openSession(),
      generation,
    });

    return this.#keySession;
  }

  /** Closes the key session, and with it every KEK object it owns. */
  #retireKeySession(): void {
    const session = this.#keySession;
    this.#keySession = undefined;
    this.#objects.clear();
    if (session !== undefined) this.#options.closeSession(session.handle);
  }

  #destroyObjects(): void {
    const session = this.#keySession;
    if (session === undefined) return;

    for (const object of this.#objects) {
      try {
        this.#options.module.C_DestroyObject(session.handle, object);
      } catch (error) {
        const translated = translatePkcs11Error(error, 'C_DestroyObject');
        // A dropped session took its objects with it: nothing is left.
        if (!isSessionFailure(translated)) {
          this.#options.keepCleanupFailure(translated);
        }
      }
    }
    this.#objects.clear();
  }
}

/** Tells apart two wraps of one key id without keeping their bytes. */
function fingerprint(kek: KekReference): string {
  return createHash('sha256')
    .update(kek.masterLabel)
    .update('\0')
    .update(kek.wrapped.mechanism)
    .update('\0')
    .update(kek.wrapped.bytes)
    .digest('hex');
}

function withKekDetails(error: unknown, keyId: number): unknown {
  if (!(error instanceof RekeyError)) return error;

  return new RekeyError(error.code, error.message, {
    details: { ...error.details, keyKind: 'kek', keyId },
  });
}

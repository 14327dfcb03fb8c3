import { RekeyError } from '@rekey/core';

import type { Pkcs11Handle } from './pkcs11-module.js';

/**
 * A small pool of logged-in PKCS#11 sessions, one per concurrent operation:
 * PKCS#11 does not let two threads run operations on one session at once,
 * and the async pkcs11js calls run on the libuv thread pool.
 *
 * Every session belongs to a generation. {@link SessionPool.reset} starts a
 * new one after the HSM invalidated sessions: idle sessions of the old
 * generation are closed at once, busy ones when they come back, and new
 * requests get fresh sessions.
 *
 * @internal
 */

/** A session lent out by the pool. */
export interface PooledSession {
  readonly handle: Pkcs11Handle;
  readonly generation: number;
}

/** Options of a {@link SessionPool}. */
export interface SessionPoolOptions {
  /** Opens and logs in a session; throws a translated error. */
  readonly open: () => Pkcs11Handle;
  /** Closes a session; must not throw. */
  readonly close: (handle: Pkcs11Handle) => void;
  /** The most sessions open at once. */
  readonly maxSessions: number;
}

interface Waiter {
  readonly resolve: (session: PooledSession) => void;
  readonly reject: (error: unknown) => void;
}

/** @internal */
export class SessionPool {
  readonly #open: () => Pkcs11Handle;
  readonly #close: (handle: Pkcs11Handle) => void;
  readonly #maxSessions: number;
  readonly #idle: PooledSession[] = [];
  readonly #busy = new Set<PooledSession>();
  readonly #waiters: Waiter[] = [];
  #generation = 0;
  #closed = false;

  constructor(options: SessionPoolOptions) {
    this.#open = options.open;
    this.#close = options.close;
    this.#maxSessions = options.maxSessions;
  }

  /** The current generation. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Lends a session: an idle one, a new one while fewer than `maxSessions`
   * are open, or the next one given back.
   *
   * @throws RekeyError from opening or logging in, or when the pool closed
   */
  acquire(): Promise<PooledSession> {
    if (this.#closed) return Promise.reject(closedError());

    const idle = this.#idle.pop();
    if (idle !== undefined) {
      this.#busy.add(idle);

      return Promise.resolve(idle);
    }

    if (this.#busy.size < this.#maxSessions) {
      try {
        return Promise.resolve(this.#openSession());
      } catch (error) {
        return Promise.reject(error);
      }
    }

    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
  }

  /**
   * Takes a session back. One of an old generation, or given back after the
   * pool closed, is closed instead of reused.
   *
   * @param session - a session from {@link SessionPool.acquire}
   */
  release(session: PooledSession): void {
    if (!this.#busy.delete(session)) return;

    if (this.#closed || session.generation !== this.#generation) {
      this.#close(session.handle);
      this.#serveWaiterWithNewSession();

      return;
    }

    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      this.#busy.add(session);
      waiter.resolve(session);

      return;
    }

    this.#idle.push(session);
  }

  /**
   * Takes a session back and closes it instead of reusing it, which also
   * destroys every session object it created.
   *
   * @param session - a session from {@link SessionPool.acquire}
   */
  discard(session: PooledSession): void {
    if (!this.#busy.delete(session)) return;

    this.#close(session.handle);
    this.#serveWaiterWithNewSession();
  }

  /**
   * Starts a new generation if `generation` is still the current one, so
   * that several operations failing together reset the pool only once.
   *
   * @param generation - the generation of the session that failed
   * @returns whether a new generation began
   */
  reset(generation: number): boolean {
    if (generation !== this.#generation) return false;

    this.#generation += 1;
    for (const session of this.#idle.splice(0)) this.#close(session.handle);

    return true;
  }

  /**
   * Closes the idle sessions and refuses new requests; busy sessions are
   * closed as they come back.
   */
  close(): void {
    this.#closed = true;
    for (const session of this.#idle.splice(0)) this.#close(session.handle);
    for (const waiter of this.#waiters.splice(0)) waiter.reject(closedError());
  }

  #openSession(): PooledSession {
    const session = Object.freeze({
      handle: this.#open(),
      generation: this.#generation,
    });
    this.#busy.add(session);

    return session;
  }

  #serveWaiterWithNewSession(): void {
    const waiter = this.#waiters.shift();
    if (waiter === undefined) return;

    try {
      waiter.resolve(this.#openSession());
    } catch (error) {
      waiter.reject(error);
    }
  }
}

function closedError(): RekeyError {
  return new RekeyError(
    'REKEY_HSM_SESSION_LOST',
    'the PKCS#11 adapter was closed: open a new one; the work may be retried',
    { details: { closed: true } },
  );
}

import { isRekeyError } from '@rekey/core';
import { describe, expect, it } from 'vitest';

import { SessionPool } from './session-pool.js';

function pool(maxSessions: number): {
  readonly pool: SessionPool;
  readonly opened: string[];
  readonly closed: string[];
} {
  const opened: string[] = [];
  const closed: string[] = [];
  const sessions = new SessionPool({
    open: () => {
      const name = `s${opened.length + 1}`;
      opened.push(name);
      return Buffer.from(name);
    },
    close: (handle) => closed.push(handle.toString()),
    maxSessions,
  });

  return { pool: sessions, opened, closed };
}

describe('SessionPool', () => {
  it('opens no more than maxSessions and hands a returned one to a waiter', async () => {
    const { pool: sessions, opened } = pool(2);
    const a = await sessions.acquire();
    const b = await sessions.acquire();

    const waiting = sessions.acquire();
    sessions.release(a);

    expect(await waiting).toBe(a);
    expect(opened).toEqual(['s1', 's2']);
    sessions.release(b);
    expect(await sessions.acquire()).toBe(b);
  });

  it('closes sessions of an old generation and opens fresh ones', async () => {
    const { pool: sessions, closed } = pool(2);
    const busy = await sessions.acquire();
    const idle = await sessions.acquire();
    sessions.release(idle);

    expect(sessions.reset(busy.generation)).toBe(true);
    expect(sessions.reset(busy.generation)).toBe(false);
    expect(closed).toEqual(['s2']);

    sessions.release(busy);
    const fresh = await sessions.acquire();

    expect(closed).toEqual(['s2', 's1']);
    expect(fresh.handle.toString()).toBe('s3');
    expect(fresh.generation).toBe(busy.generation + 1);
  });

  it('closes a discarded session and opens another for a waiter', async () => {
    const { pool: sessions, closed } = pool(1);
    const only = await sessions.acquire();
    const waiting = sessions.acquire();

    sessions.discard(only);

    expect(closed).toEqual(['s1']);
    expect((await waiting).handle.toString()).toBe('s2');
  });

  it('refuses waiters and new requests once closed, as retryable', async () => {
    const { pool: sessions, closed } = pool(1);
    const only = await sessions.acquire();
    const waiting = sessions.acquire();

    sessions.close();
    const refused = await waiting.catch((e: unknown) => e);
    sessions.release(only);

    expect(isRekeyError(refused, 'REKEY_HSM_SESSION_LOST')).toBe(true);
    expect(closed).toEqual(['s1']);
    await expect(sessions.acquire()).rejects.toMatchObject({
      code: 'REKEY_HSM_SESSION_LOST',
    });
  });
});

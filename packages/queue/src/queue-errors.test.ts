import { isRekeyError, RekeyError } from '@rekey/core';
import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';

import { queueUnavailable, translateQueueError } from './queue-errors.js';

describe('translateQueueError', () => {
  it('makes connection failures REKEY_QUEUE_UNAVAILABLE, retryable', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), {
      code: 'ECONNREFUSED',
    });
    const translated = translateQueueError(refused, 'enqueue run 1');

    expect(isRekeyError(translated, 'REKEY_QUEUE_UNAVAILABLE')).toBe(true);
    expect((translated as RekeyError).retryable).toBe(true);
    expect((translated as Error).message).toContain('enqueue run 1');
  });

  it('makes a transient error reply REKEY_QUEUE_UNAVAILABLE', () => {
    const readOnly = new ReplyError(
      "READONLY You can't write against a read only replica.",
    );

    expect(
      isRekeyError(
        translateQueueError(readOnly, 'x'),
        'REKEY_QUEUE_UNAVAILABLE',
      ),
    ).toBe(true);
  });

  it('leaves other error replies as they are', () => {
    const crossSlot = new ReplyError(
      "CROSSSLOT Keys in request don't hash to the same slot",
    );

    expect(translateQueueError(crossSlot, 'x')).toBe(crossSlot);
  });

  it('passes Rekey errors through', () => {
    const error = new RekeyError('REKEY_INPUT_INVALID', 'bad');

    expect(translateQueueError(error, 'x')).toBe(error);
  });
});

describe('queueUnavailable', () => {
  it('keeps no more of the cause than its name, message and code', () => {
    const cause = Object.assign(new Error('WRONGPASS invalid password'), {
      command: { name: 'auth', args: ['hunter2'] },
      code: 'WRONGPASS',
    });
    const error = queueUnavailable('x', cause);

    expect(JSON.stringify(error.cause)).not.toContain('hunter2');
    expect((error.cause as Error & { command?: unknown }).command).toBe(
      undefined,
    );
    expect((error.cause as Error & { code?: string }).code).toBe('WRONGPASS');
  });
});

import { isRekeyError } from '@rekey/core';
import { describe, expect, it } from 'vitest';

import { RekeyQueues } from './rekey-queues.js';

const runRef = (id: number) => ({ id, createdAt: new Date(0) });

// Nothing listens on port 1; these tests never reach Redis.
const nowhere = 'redis://127.0.0.1:1';

function refusal(open: () => unknown): unknown {
  try {
    open();
  } catch (error) {
    return error;
  }
  throw new Error('expected open to refuse');
}

describe('RekeyQueues.open', () => {
  it('refuses a prefix without a hash tag before connecting', () => {
    const error = refusal(() =>
      RekeyQueues.open({ redisUrl: nowhere, prefix: 'bull' }),
    );

    expect(isRekeyError(error, 'REKEY_CONFIG_INVALID')).toBe(true);
  });

  it.each([0, -1, 1.5, Number.NaN])(
    'refuses a command timeout of %s',
    (commandTimeoutMillis) => {
      const error = refusal(() =>
        RekeyQueues.open({ redisUrl: nowhere, commandTimeoutMillis }),
      );

      expect(isRekeyError(error, 'REKEY_CONFIG_INVALID')).toBe(true);
    },
  );

  it('puts both queues and the flows under the one prefix', async () => {
    const queues = RekeyQueues.open({ redisUrl: nowhere, prefix: 'x:{tag}' });
    try {
      expect(queues.prefix).toBe('x:{tag}');
      expect(queues.rotation.qualifiedName).toBe('x:{tag}:rekey-rotation');
      expect(queues.reencrypt.qualifiedName).toBe('x:{tag}:rekey-reencrypt');
    } finally {
      await queues.close();
    }
  });

  it('validates a run id before it touches Redis', async () => {
    const queues = RekeyQueues.open({ redisUrl: nowhere });
    try {
      await expect(queues.enqueueRotation(runRef(0))).rejects.toMatchObject({
        code: 'REKEY_INPUT_INVALID',
      });
      await expect(
        queues.enqueueRangeFlow({ run: runRef(1), rangeNos: [-1] }),
      ).rejects.toMatchObject({ code: 'REKEY_INPUT_INVALID' });
    } finally {
      await queues.close();
    }
  });
});

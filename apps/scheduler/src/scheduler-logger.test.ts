import { Writable } from 'node:stream';

import { RekeyError } from '@rekey/core';
import { describe, expect, it } from 'vitest';

import { createSchedulerLogger, serializeError } from './scheduler-logger.js';

function capture(): { lines: string[]; destination: Writable } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });

  return { lines, destination };
}

describe('createSchedulerLogger', () => {
  it('redacts headers, tokens, pins, passwords, keys and ciphertext', () => {
    const { lines, destination } = capture();
    const log = createSchedulerLogger({ level: 'trace', destination });

    log.info(
      {
        req: { headers: { authorization: 'Bearer t0ken', cookie: 'c00kie' } },
        vault: { token: 's.t0ken' },
        hsm: { pin: '1234' },
        db: { password: 'hunter2' },
        dek: { key: 'a2V5Ynl0ZXM=' },
        row: { ciphertext: 'Y2lwaGVy' },
      },
      'probe',
    );

    const line = lines.join('');
    for (const secret of [
      't0ken',
      'c00kie',
      '1234',
      'hunter2',
      'a2V5Ynl0ZXM=',
      'Y2lwaGVy',
    ]) {
      expect(line).not.toContain(secret);
    }
    expect(line).toContain('[redacted]');
  });

  it('logs errors under err without their vendor properties', () => {
    const { lines, destination } = capture();
    const log = createSchedulerLogger({ destination });
    const vendor = Object.assign(new Error('AUTH failed'), {
      command: { name: 'auth', args: ['hunter2'] },
    });

    log.error({ err: vendor }, 'request failed');

    const entry = JSON.parse(lines.join('')) as { err: { message: string } };
    expect(entry.err.message).toBe('AUTH failed');
    expect(lines.join('')).not.toContain('hunter2');
  });
});

describe('serializeError', () => {
  it('keeps a Rekey error’s code and details, and its cause reduced', () => {
    const error = new RekeyError('REKEY_QUEUE_UNAVAILABLE', 'redis away', {
      cause: Object.assign(new Error('connect ECONNREFUSED'), {
        code: 'ECONNREFUSED',
        address: '10.0.0.1',
      }),
      details: { runId: 3 },
    });

    expect(serializeError(error)).toMatchObject({
      code: 'REKEY_QUEUE_UNAVAILABLE',
      details: { runId: 3 },
      retryable: true,
      cause: { message: 'connect ECONNREFUSED', code: 'ECONNREFUSED' },
    });
    expect(JSON.stringify(serializeError(error))).not.toContain('10.0.0.1');
  });
});

import { Writable } from 'node:stream';

import { RekeyError } from '@rekey/core';
import { describe, expect, it } from 'vitest';

import {
  createLogger,
  httpSerializers,
  serializeError,
  type LoggerOptions,
} from './runtime-logger.js';

function capture(options: Partial<LoggerOptions> = {}) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const log = createLogger({
    name: 'test',
    level: 'trace',
    ...options,
    destination,
  });

  return { lines, log };
}

function entryOf(lines: readonly string[]): Record<string, unknown> {
  expect(lines).toHaveLength(1);

  return JSON.parse(lines[0] ?? '') as Record<string, unknown>;
}

describe('createLogger', () => {
  it('redacts headers, tokens, cookies, pins, passwords, keys and ciphertext', () => {
    const { lines, log } = capture();

    log.info(
      {
        req: {
          headers: {
            authorization: 'Bearer t0ken',
            cookie: 'c00kie',
            'x-api-key': 'ap1key',
            'x-vault-token': 'hvs.v4ult',
          },
        },
        cookie: 'top-c00kie',
        vault: { token: 's.t0ken' },
        hsm: { pin: '1234' },
        db: { password: 'hunter2' },
        dek: { key: 'a2V5Ynl0ZXM=' },
        row: { ciphertext: 'Y2lwaGVy' },
      },
      'probe',
    );

    const line = lines.join('');
    expect(line).toContain('"msg":"probe"');
    for (const secret of [
      't0ken',
      'c00kie',
      'ap1key',
      'v4ult',
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
    const { lines, log } = capture();
    const vendor = Object.assign(new Error('AUTH failed'), {
      command: { name: 'auth', args: ['hunter2'] },
    });

    log.error({ err: vendor }, 'request failed');

    const entry = entryOf(lines) as { err: Record<string, unknown> };
    expect(entry.err).toEqual({ type: 'Error', message: 'AUTH failed' });
    expect(lines.join('')).not.toContain('hunter2');
  });

  it('adds stacks to logged errors only when asked', () => {
    const plain = capture();
    const stacked = capture({ errorStacks: true });
    const error = new RekeyError('REKEY_DB_UNAVAILABLE', 'database away', {
      cause: new Error('connect ECONNREFUSED'),
    });

    plain.log.warn({ err: error }, 'dependency unavailable');
    stacked.log.warn({ err: error }, 'dependency unavailable');

    const withoutStack = entryOf(plain.lines) as {
      err: { stack?: string; cause: { stack?: string } };
    };
    const withStack = entryOf(stacked.lines) as {
      err: { stack?: string; cause: { stack?: string } };
    };
    expect(withoutStack.err.stack).toBeUndefined();
    expect(withoutStack.err.cause.stack).toBeUndefined();
    expect(withStack.err.stack).toMatch(/^RekeyError: database away\n/);
    expect(withStack.err.cause.stack).toMatch(/^Error: connect ECONNREFUSED\n/);
  });

  it('logs requests and replies field by field when serving HTTP', () => {
    const { lines, log } = capture({ http: true });
    const request = {
      method: 'POST',
      url: '/v1/tenants/tenant-a/rotations',
      host: 'scheduler:8080',
      ip: '10.0.0.7',
      socket: { remotePort: 51234 },
      headers: {
        'accept-version': '1',
        authorization: 'Bearer t0ken',
        cookie: 'c00kie',
        'x-api-key': 'ap1key',
      },
      body: { requestedBy: 'ops', dek: 'c2VjcmV0' },
      params: { tenantId: 'tenant-a' },
    };

    log.info({ req: request }, 'incoming request');
    log.info(
      { res: { statusCode: 202, headers: { 'set-cookie': 'c00kie' } } },
      'request completed',
    );

    const [incoming, completed] = lines.map(
      (line) => JSON.parse(line) as Record<string, unknown>,
    );
    expect(incoming?.req).toEqual({
      method: 'POST',
      url: '/v1/tenants/tenant-a/rotations',
      version: '1',
      host: 'scheduler:8080',
      remoteAddress: '10.0.0.7',
      remotePort: 51234,
    });
    expect(completed?.res).toEqual({ statusCode: 202 });
    for (const secret of ['t0ken', 'c00kie', 'ap1key', 'c2VjcmV0']) {
      expect(lines.join('')).not.toContain(secret);
    }
  });

  it('leaves req and res to redaction alone when not serving HTTP', () => {
    const { lines, log } = capture();

    log.info(
      { req: { id: 7, headers: { authorization: 'Bearer t0ken' } } },
      'probe',
    );

    const entry = entryOf(lines) as { req: Record<string, unknown> };
    expect(entry.req).toEqual({
      id: 7,
      headers: { authorization: '[redacted]' },
    });
    expect(lines.join('')).not.toContain('t0ken');
  });
});

describe('httpSerializers', () => {
  it('keeps a request without a socket or headers', () => {
    expect(httpSerializers.req({ method: 'GET', url: '/healthz' })).toEqual({
      method: 'GET',
      url: '/healthz',
      version: undefined,
      host: undefined,
      remoteAddress: undefined,
      remotePort: undefined,
    });
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

    const serialized = serializeError(error);

    expect(serialized).toEqual({
      type: 'RekeyError',
      code: 'REKEY_QUEUE_UNAVAILABLE',
      message: 'redis away',
      retryable: true,
      details: { runId: 3 },
      cause: {
        type: 'Error',
        message: 'connect ECONNREFUSED',
        code: 'ECONNREFUSED',
      },
    });
    expect(JSON.stringify(serialized)).not.toContain('10.0.0.1');
  });

  it('reduces each error of an AggregateError', () => {
    const error = new AggregateError(
      [
        Object.assign(new Error('connect ECONNREFUSED ::1:6379'), {
          code: 'ECONNREFUSED',
          password: 'hunter2',
        }),
        'not an error',
      ],
      'all attempts failed',
    );

    const serialized = serializeError(error);

    expect(serialized).toEqual({
      type: 'AggregateError',
      message: 'all attempts failed',
      errors: [
        {
          type: 'Error',
          message: 'connect ECONNREFUSED ::1:6379',
          code: 'ECONNREFUSED',
        },
        { type: 'string', message: 'not an error' },
      ],
    });
    expect(JSON.stringify(serialized)).not.toContain('hunter2');
  });

  it('keeps stacks, down to causes and inner errors, when asked', () => {
    const inner = new Error('inner');
    const error = new RekeyError('REKEY_DB_UNAVAILABLE', 'outer', {
      cause: new AggregateError([inner], 'both'),
    });

    const serialized = serializeError(error, { stack: true }) as {
      stack: string;
      cause: { stack: string; errors: Array<{ stack: string }> };
    };

    expect(serialized.stack).toBe(error.stack);
    expect(serialized.cause.stack).toMatch(/^AggregateError: both\n/);
    expect(serialized.cause.errors[0]?.stack).toBe(inner.stack);
  });

  it('reduces a thrown value that is not an error to its type and text', () => {
    expect(serializeError(42)).toEqual({ type: 'number', message: '42' });
  });
});

import { inspect } from 'node:util';

import { isRekeyError, type RekeyError } from '@rekey/core';
import { describe, expect, it } from 'vitest';

import { createPool, describeServer } from './create-pool.js';

describe('describeServer', () => {
  it('names host and port, never the user or password', () => {
    expect(describeServer('postgres://app:s3cret@db.internal:6432/rekey')).toBe(
      'db.internal:6432',
    );
    expect(describeServer('postgresql://app:s3cret@10.0.0.5/rekey')).toBe(
      '10.0.0.5:5432',
    );
    expect(
      describeServer('postgresql:///rekey?host=/var/run/postgresql&port=5433'),
    ).toBe('/var/run/postgresql:5433');
    expect(describeServer('not a url s3cret')).toBe('the configured server');
  });
});

describe('createPool', () => {
  it('fails to connect with a retryable REKEY_DB_UNAVAILABLE naming host:port', async () => {
    // Port 1 on the loopback interface refuses at once.
    const pool = createPool({
      connectionString: 'postgres://app:s3cret@127.0.0.1:1/rekey',
      connectionTimeoutMillis: 2_000,
    });

    let thrown: unknown;
    try {
      await pool.connect();
    } catch (error) {
      thrown = error;
    } finally {
      await pool.end();
    }

    expect(isRekeyError(thrown, 'REKEY_DB_UNAVAILABLE')).toBe(true);
    const error = thrown as RekeyError;
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('127.0.0.1:1');
    expect(error.message).not.toContain('s3cret');
    expect(JSON.stringify(error.details)).not.toContain('s3cret');
  });

  it('translates the connect of pool.query too', async () => {
    const pool = createPool({
      connectionString: 'postgres://app:s3cret@127.0.0.1:1/rekey',
    });

    await expect(pool.query('select 1')).rejects.toMatchObject({
      code: 'REKEY_DB_UNAVAILABLE',
    });
    await pool.end();
  });

  it('keeps the connection string out of a dump of the pool', async () => {
    const pool = createPool({
      connectionString: 'postgres://app:s3cret@127.0.0.1:1/rekey',
    });

    expect(inspect(pool, { depth: 5 })).not.toContain('s3cret');
    expect(JSON.stringify(pool.options)).not.toContain('s3cret');
    await pool.end();
  });

  it('refuses an empty connection string and bad limits', () => {
    expect(() => createPool({ connectionString: '' })).toThrow(
      /connection string/,
    );
    expect(() =>
      createPool({ connectionString: 'postgres://x@127.0.0.1/x', max: 0 }),
    ).toThrow(/max/);
  });
});

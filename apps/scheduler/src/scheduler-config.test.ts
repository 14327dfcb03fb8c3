import { isRekeyError } from '@rekey/core';
import { describe, expect, it } from 'vitest';

import { loadSchedulerConfig } from './scheduler-config.js';

function failureOf(env: Record<string, string>): Error {
  try {
    loadSchedulerConfig(env);
  } catch (error) {
    expect(isRekeyError(error, 'REKEY_CONFIG_INVALID')).toBe(true);

    return error as Error;
  }
  throw new Error('expected the configuration to be refused');
}

describe('loadSchedulerConfig', () => {
  it('applies every default to an empty environment', () => {
    const config = loadSchedulerConfig({});

    expect({ ...config }).toEqual({
      port: 8080,
      host: '127.0.0.1',
      databaseSchema: 'rekey',
      queuePrefix: '{rekey}',
      logLevel: 'info',
    });
    expect(config.databaseUrl).toBe(
      'postgres://postgres@127.0.0.1:5432/postgres',
    );
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
  });

  it('reads each variable', () => {
    const config = loadSchedulerConfig({
      PORT: '9090',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgres://rekey:pw@db:5432/rekey',
      REKEY_DB_SCHEMA: 'rekey_eu',
      REDIS_URL: 'rediss://:pw@cache:6380',
      REKEY_QUEUE_PREFIX: 'prod:{rekey}',
      LOG_LEVEL: 'debug',
    });

    expect(config).toMatchObject({
      port: 9090,
      host: '0.0.0.0',
      databaseUrl: 'postgres://rekey:pw@db:5432/rekey',
      databaseSchema: 'rekey_eu',
      redisUrl: 'rediss://:pw@cache:6380',
      queuePrefix: 'prod:{rekey}',
      logLevel: 'debug',
    });
  });

  it('treats an empty variable as unset', () => {
    expect(loadSchedulerConfig({ PORT: '', LOG_LEVEL: '' })).toMatchObject({
      port: 8080,
      logLevel: 'info',
    });
  });

  it('is frozen, and keeps the URLs, which may hold passwords, out of dumps', () => {
    const config = loadSchedulerConfig({
      DATABASE_URL: 'postgres://rekey:s3cret@db/rekey',
      REDIS_URL: 'redis://:s3cret@cache:6379',
    });

    expect(Object.isFrozen(config)).toBe(true);
    expect(JSON.stringify(config)).not.toContain('s3cret');
    expect(Object.keys(config)).not.toContain('databaseUrl');
  });

  it('refuses a queue prefix without a hash tag', () => {
    expect(failureOf({ REKEY_QUEUE_PREFIX: 'bull' }).message).toMatch(
      /REKEY_QUEUE_PREFIX.*hash tag/,
    );
  });

  it('names every bad variable, without repeating a value', () => {
    const message = failureOf({
      PORT: 'eighty',
      DATABASE_URL: 'mysql://root:s3cret@db/x',
      REDIS_URL: 'not a url',
      LOG_LEVEL: 'chatty',
      REKEY_DB_SCHEMA: 'Drop Table',
    }).message;

    for (const name of [
      'PORT',
      'DATABASE_URL',
      'REDIS_URL',
      'LOG_LEVEL',
      'REKEY_DB_SCHEMA',
    ]) {
      expect(message).toContain(name);
    }
    expect(message).not.toContain('s3cret');
  });
});

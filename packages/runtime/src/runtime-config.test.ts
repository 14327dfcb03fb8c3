import { isRekeyError } from '@rekey/core';
import { describe, expect, it } from 'vitest';

import { describeServer, loadRuntimeConfig } from './runtime-config.js';

function failureOf(env: Record<string, string>): Error {
  try {
    loadRuntimeConfig(env);
  } catch (error) {
    expect(isRekeyError(error, 'REKEY_CONFIG_INVALID')).toBe(true);

    return error as Error;
  }
  throw new Error('expected the configuration to be refused');
}

describe('loadRuntimeConfig', () => {
  it('applies every default to an empty environment', () => {
    const config = loadRuntimeConfig({});

    expect(config.database.url).toBe(
      'postgres://postgres@127.0.0.1:5432/postgres',
    );
    expect(config.database.schema).toBe('rekey');
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.redis.queuePrefix).toBe('{rekey}');
    expect(config.api).toEqual({
      host: '127.0.0.1',
      port: 8080,
      url: 'http://127.0.0.1:8080',
    });
    expect(config.logLevel).toBe('info');
    expect(config.hsm.pin).toBeUndefined();
  });

  it('reads each variable', () => {
    const config = loadRuntimeConfig({
      PORT: '9090',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgresql://rekey:pw@db:5432/rekey',
      REKEY_DB_SCHEMA: 'rekey_eu',
      REDIS_URL: 'rediss://:pw@cache:6380',
      REKEY_QUEUE_PREFIX: 'prod:{rekey}',
      LOG_LEVEL: 'debug',
    });

    expect(config.api).toMatchObject({ host: '0.0.0.0', port: 9090 });
    expect(config.database.url).toBe('postgresql://rekey:pw@db:5432/rekey');
    expect(config.database.schema).toBe('rekey_eu');
    expect(config.redis.url).toBe('rediss://:pw@cache:6380');
    expect(config.redis.queuePrefix).toBe('prod:{rekey}');
    expect(config.logLevel).toBe('debug');
  });

  it('treats an empty variable as unset', () => {
    const config = loadRuntimeConfig({ PORT: '', LOG_LEVEL: '' });

    expect(config.api.port).toBe(8080);
    expect(config.logLevel).toBe('info');
  });

  it('is frozen, and keeps the URLs and the PIN out of dumps', () => {
    const config = loadRuntimeConfig({
      DATABASE_URL: 'postgres://rekey:s3cret@db/rekey',
      REDIS_URL: 'redis://:s3cret@cache:6379',
      REKEY_HSM_PIN: 's3cret-pin',
    });

    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.database)).toBe(true);
    expect(Object.isFrozen(config.redis)).toBe(true);
    expect(JSON.stringify(config)).not.toContain('s3cret');
    expect(Object.keys(config.database)).not.toContain('url');
    expect(Object.keys(config.redis)).not.toContain('url');
    expect(Object.keys(config.hsm)).not.toContain('pin');
    expect(config.database.url).toBe('postgres://rekey:s3cret@db/rekey');
    expect(config.hsm.pin).toBe('s3cret-pin');
  });

  it('refuses a queue prefix without a hash tag', () => {
    expect(failureOf({ REKEY_QUEUE_PREFIX: 'bull' }).message).toMatch(
      /REKEY_QUEUE_PREFIX.*hash tag/,
    );
  });

  it('refuses URLs of another protocol', () => {
    const message = failureOf({
      DATABASE_URL: 'postgresfoo://db/rekey',
      REDIS_URL: 'http://cache:6379',
    }).message;

    expect(message).toContain(
      'DATABASE_URL: must be a URL starting with postgres:// or postgresql://',
    );
    expect(message).toContain(
      'REDIS_URL: must be a URL starting with redis:// or rediss://',
    );
  });

  it('names every bad variable, without repeating a value', () => {
    const message = failureOf({
      PORT: 'eighty',
      DATABASE_URL: 'mysql://root:s3cret@db/x',
      REDIS_URL: 'not a url s3cret',
      LOG_LEVEL: 'chatty',
      REKEY_DB_SCHEMA: 'Drop Table',
      REKEY_HSM_PIN: 's3c',
    }).message;

    for (const name of [
      'PORT',
      'DATABASE_URL',
      'REDIS_URL',
      'LOG_LEVEL',
      'REKEY_DB_SCHEMA',
      'REKEY_HSM_PIN',
    ]) {
      expect(message).toContain(name);
    }
    expect(message).not.toContain('s3c');
    expect(message).not.toContain('eighty');
    expect(message).not.toContain('chatty');
    expect(message).not.toContain('Drop Table');
  });
});

describe('describeServer', () => {
  it('shows host and port, never the user, password, path or query', () => {
    const described = describeServer(
      'postgres://app:s3cret@db.internal:6432/rekey?sslmode=require',
    );

    expect(described).toBe('db.internal:6432');
    expect(describeServer('rediss://:s3cret@cache:6380/2')).toBe('cache:6380');
  });

  it('says when the URL names no port', () => {
    expect(describeServer('postgresql://app:s3cret@10.0.0.5/rekey')).toBe(
      '10.0.0.5:default',
    );
  });

  it('shows a placeholder for a malformed URL, not the URL', () => {
    expect(describeServer('not a url s3cret')).toBe('the configured server');
  });
});

import { isRekeyError } from '@rekey/core';
import { describe, expect, it } from 'vitest';

import { defaultQueuePrefix, validateQueuePrefix } from './queue-prefix.js';

describe('validateQueuePrefix', () => {
  it.each(['{rekey}', 'prod:{rekey}', '{rekey}:eu-1', 'a{b-c.d_1}e'])(
    'accepts %s, which has one non-empty hash tag',
    (prefix) => {
      expect(validateQueuePrefix(prefix)).toBe(prefix);
    },
  );

  it('accepts the default prefix', () => {
    expect(validateQueuePrefix(defaultQueuePrefix)).toBe('{rekey}');
  });

  it.each([
    ['', 'no tag at all'],
    ['rekey', 'no tag at all'],
    ['bull', "BullMQ's default"],
    ['{}', 'an empty tag, which Redis ignores'],
    ['x{}y', 'an empty tag inside'],
    ['}rekey{', 'a reversed tag'],
    ['{rot}{batch}', 'two tags, of which only the first would count'],
    ['{a{b}}', 'nested braces'],
    ['{rekey', 'an unclosed tag'],
    ['rekey}', 'a tag never opened'],
    [':{rekey}', 'a leading colon'],
    ['{rekey}:', 'a trailing colon'],
    ['{re key}', 'whitespace'],
  ])('refuses %j (%s) with REKEY_CONFIG_INVALID', (prefix) => {
    let caught: unknown;
    try {
      validateQueuePrefix(prefix);
    } catch (error) {
      caught = error;
    }

    expect(isRekeyError(caught, 'REKEY_CONFIG_INVALID')).toBe(true);
    expect((caught as Error).message).toContain('{rekey}');
  });

  it('says why a tag is needed', () => {
    expect(() => validateQueuePrefix('rekey')).toThrow(/hash tag.*slot/);
  });
});

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { errorCodes, RekeyError } from './rekey-errors.js';

const docs = readFileSync(
  fileURLToPath(new URL('../../../../docs/errors.md', import.meta.url)),
  'utf8',
);

describe('error registry', () => {
  const codes = Object.keys(errorCodes) as Array<keyof typeof errorCodes>;

  it('gives every code a prefix, a disposition and a sentence of documentation', () => {
    for (const code of codes) {
      expect(code).toMatch(/^REKEY_[A-Z0-9_]+$/);
      expect(['retryable', 'permanent']).toContain(
        errorCodes[code].disposition,
      );
      expect(errorCodes[code].doc.length).toBeGreaterThan(10);
    }
  });

  it('documents every code in docs/errors.md, once', () => {
    for (const code of codes) {
      const rows = docs
        .split('\n')
        .filter((line) => line.includes(`\`${code}\``));

      expect(rows, code).toHaveLength(1);
      expect(rows[0], code).toContain(errorCodes[code].disposition);
    }
  });

  it('marks errors retryable by their code', () => {
    expect(new RekeyError('REKEY_DB_CONFLICT', 'x').retryable).toBe(true);
    expect(new RekeyError('REKEY_CIPHERTEXT_AUTH_FAILED', 'x').retryable).toBe(
      false,
    );
  });
});

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { testToken } from '../support/hsm-env.js';
import { newMasterKey } from '../support/pkcs11-fixtures.js';
import { testEnv } from '../support/test-env.js';

const run = promisify(execFile);

interface ToolResult {
  readonly exitCode: number;
  readonly output: string;
}

/**
 * Runs OpenSC's pkcs11-tool against the test token, logged in as the user.
 * pkcs11-tool 0.23 picks the first token whose label starts with the one
 * given, so no other token in the run may have a label extending
 * the test token's.
 */
async function pkcs11Tool(...args: string[]): Promise<ToolResult> {
  const token = testToken();
  const all = [
    '--module',
    testEnv.pkcs11Module,
    '--token-label',
    token.label,
    '--login',
    '--pin',
    token.pin,
    ...args,
  ];
  try {
    const { stdout, stderr } = await run('pkcs11-tool', all, {
      env: { ...process.env, SOFTHSM2_CONF: token.conf },
    });

    return { exitCode: 0, output: `${stdout}\n${stderr}` };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };

    return {
      exitCode: typeof failed.code === 'number' ? failed.code : -1,
      output: `${failed.stdout ?? ''}\n${failed.stderr ?? ''}`,
    };
  }
}

/** The block pkcs11-tool prints for the secret key with this label. */
function objectBlock(listing: string, label: string): string | undefined {
  return listing
    .split(/^(?=Secret Key Object)/m)
    .find((block) =>
      new RegExp(`^\\s*label:\\s+${label}\\s*$`, 'm').test(block),
    );
}

describe('the master key, as pkcs11-tool sees it', () => {
  it('is a sensitive AES-256 key that was never extractable, for wrapping only', async () => {
    const label = await newMasterKey('tool');

    const listing = await pkcs11Tool('--list-objects', '--type', 'secrkey');
    const block = objectBlock(listing.output, label);

    expect(listing.exitCode).toBe(0);
    expect(block).toBeDefined();
    expect(block).toMatch(/Secret Key Object; AES length 32/);
    expect(block).toMatch(
      /Access:\s+sensitive, always sensitive, never extractable, local/,
    );
    expect(block).toMatch(/Usage:\s+wrap, unwrap\s*$/m);
    expect(block).not.toMatch(/VALUE:/);
  });

  it('refuses to reveal its value', async () => {
    const label = await newMasterKey('tool');

    const read = await pkcs11Tool(
      '--read-object',
      '--type',
      'secrkey',
      '--label',
      label,
    );

    expect(read.exitCode).not.toBe(0);
    expect(read.output).toContain('CKR_ATTRIBUTE_SENSITIVE');
    expect(read.output).toMatch(/get CKA_VALUE failed/);
  });
});

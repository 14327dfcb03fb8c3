import { Writable } from 'node:stream';

import { contextDocument } from '@rekey/rotation';
import { createLogger } from '@rekey/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { testToken } from '../support/hsm-env.js';
import {
  createRekeyFixture,
  type RekeyFixture,
} from '../support/rekey-fixture.js';
import { startWorker } from '../support/worker-process.js';

function forms(bytes: Buffer): string[] {
  return [
    bytes.toString('hex'),
    bytes.toString('base64'),
    bytes.toString('base64url'),
  ];
}

// Keys, PINs, wrapped keys and plaintext must never reach a log line, even
// at trace level and through error objects of failing components.
describe('secrets in log output', () => {
  let fx: RekeyFixture;

  beforeAll(async () => {
    fx = await createRekeyFixture({ rangeSize: 1_000, batchSize: 250 });
  });

  afterAll(async () => {
    await fx?.[Symbol.asyncDispose]();
  });

  it('never appear in what workers print, during a rotation with failures', async () => {
    await fx.seed('tenant-a', 2_000);
    await fx.services.pool.query(
      `update "${fx.schema}".context_records
          set ciphertext = set_byte(ciphertext, 50, get_byte(ciphertext, 50) # 1)
        where tenant_id = 'tenant-a' and id = (select min(id) from "${fx.schema}".context_records where tenant_id = 'tenant-a')`,
    );
    const wrongPin = startWorker({
      ...fx.env,
      REKEY_HSM_PIN: 'wrong-pin-7f3a9c1e',
      LOG_LEVEL: 'trace',
    });
    const worker = await fx.startWorker({ LOG_LEVEL: 'trace' });

    const requested = await fx.rotate('tenant-a');
    const run = await fx.waitForRun(requested.id);
    const refused = await wrongPin.exited;

    expect(run.status).toBe('completed_with_failures');
    expect(refused.code).toBe(1);
    expect(wrongPin.lines.join('\n')).toContain('REKEY_HSM_PIN_INCORRECT');

    const oldKey = await fx.services.hierarchy.dataKey(run.fromKeyId);
    const newKey = await fx.services.hierarchy.dataKey(run.toKeyId!);
    const { rows: wrapped } = await fx.services.pool.query<{
      wrapped_key: Buffer;
    }>(
      `select wrapped_key from "${fx.schema}".keys where wrapped_key is not null`,
    );
    const plaintext = contextDocument('tenant-a', 7).toString();
    const secrets = [
      testToken().pin,
      'wrong-pin-7f3a9c1e',
      ...forms(oldKey.material.bytes),
      ...forms(newKey.material.bytes),
      ...wrapped.flatMap((w) => forms(w.wrapped_key)),
      plaintext,
      plaintext.slice(
        plaintext.indexOf('"notes"'),
        plaintext.indexOf('"notes"') + 60,
      ),
    ];
    const output = [...worker.lines, ...wrongPin.lines].join('\n');

    expect(worker.lines.length).toBeGreaterThan(20);
    expect(output).toContain('REKEY_CIPHERTEXT_AUTH_FAILED');
    for (const secret of secrets) {
      expect(
        output.includes(secret),
        `a secret of length ${secret.length} was logged`,
      ).toBe(false);
    }
  });

  it('are redacted by the logger when a careless field or vendor error carries them', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger({
      name: 'test',
      level: 'trace',
      destination: sink,
    });
    const vendorError = Object.assign(new Error('permission denied'), {
      response: { headers: { 'x-vault-token': 'hvs.secret-token-value' } },
      pin: 'pin-in-error-123',
    });

    log.info(
      {
        pin: 'top-level-pin-456',
        headers: { authorization: 'Bearer abc.def.ghi' },
        hsm: { pin: 'nested-pin-789' },
        err: vendorError,
      },
      'careless line',
    );

    const text = lines.join('');
    expect(text).toContain('careless line');
    expect(text).toContain('permission denied');
    for (const secret of [
      'hvs.secret-token-value',
      'pin-in-error-123',
      'top-level-pin-456',
      'Bearer abc.def.ghi',
      'nested-pin-789',
    ]) {
      expect(text).not.toContain(secret);
    }
  });
});

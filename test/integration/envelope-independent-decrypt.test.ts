import { execFileSync, spawnSync } from 'node:child_process';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createRekeyFixture,
  type RekeyFixture,
} from '../support/rekey-fixture.js';

// Decrypts a stored row with Python's `cryptography` package, written from
// docs/envelope-format.md alone: if this passes, the documented layout and
// AAD are the ones the code uses.
const decoder = String.raw`
import json, struct, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

job = json.load(sys.stdin)
env = bytes.fromhex(job["envelope"])
assert env[0:2] == b"RK" and env[2] == 1 and env[3] == 1, "not a v1 envelope"
key_id, key_version = struct.unpack(">II", env[4:12])
header, iv, body = env[0:12], env[12:24], env[24:]

def field(text):
    raw = text.encode("utf-8")
    return struct.pack(">H", len(raw)) + raw

aad = b"rekey.aad.v1" + header + field(job["tenant"]) + field(job["table"]) \
    + field(job["column"]) + field(str(job["rowId"]))
plaintext = AESGCM(bytes.fromhex(job["key"])).decrypt(iv, body, aad)
print(json.dumps({"keyId": key_id, "keyVersion": key_version,
                  "plaintext": plaintext.decode("utf-8")}))
`;

function findPython(): string {
  for (const candidate of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(candidate, ['-c', 'import cryptography'], {
      stdio: 'ignore',
    });
    if (probe.status === 0) return candidate;
  }

  throw new Error(
    "no Python with the 'cryptography' package: install it (Debian: `apt-get install python3-cryptography`)",
  );
}

describe('an envelope decrypted by an independent implementation', () => {
  let fx: RekeyFixture;

  beforeAll(async () => {
    fx = await createRekeyFixture();
    await fx.seed('tenant-a', 3);
  });

  afterAll(async () => {
    await fx?.[Symbol.asyncDispose]();
  });

  it('gives back the plaintext Rekey encrypted, from the documented layout', async () => {
    const { rows } = await fx.services.pool.query<{
      id: string;
      key_id: string;
      ciphertext: Buffer;
    }>(
      `select id, key_id, ciphertext from "${fx.schema}".context_records
        where tenant_id = 'tenant-a' order by id limit 1`,
    );
    const row = rows[0]!;
    const key = await fx.services.hierarchy.dataKey(Number(row.key_id));

    const answer = execFileSync(findPython(), ['-c', decoder], {
      input: JSON.stringify({
        envelope: row.ciphertext.toString('hex'),
        key: key.material.bytes.toString('hex'),
        tenant: 'tenant-a',
        table: fx.config.table.table,
        column: fx.config.table.ciphertextColumn,
        rowId: row.id,
      }),
    }).toString();
    const decoded = JSON.parse(answer) as {
      keyId: number;
      keyVersion: number;
      plaintext: string;
    };

    expect(decoded.keyId).toBe(key.keyId);
    expect(decoded.keyVersion).toBe(key.version);
    expect(JSON.parse(decoded.plaintext)).toMatchObject({
      tenant: 'tenant-a',
      sequence: 0,
    });
  });
});

import { afterEach, describe, expect, it } from 'vitest';

import {
  createRekeyFixture,
  type RekeyFixture,
} from '../support/rekey-fixture.js';

// A range that fails for good must not leave its rotation "running"
// forever behind a parent job waiting for its children, nor let the
// finalize step act as if every range had succeeded.
describe('a rotation whose range fails for good', () => {
  let rekey: RekeyFixture | undefined;

  afterEach(async () => {
    await rekey?.[Symbol.asyncDispose]();
  });

  it('ends failed, names the range, and keeps the old key and the rows as they were', async () => {
    rekey = await createRekeyFixture({ rangeSize: 500, batchSize: 250 });
    const fx = rekey;
    await fx.seed('tenant-a', 2_000);
    const old = await fx.services.hierarchy.activeDek('tenant-a');
    // The old DEK's wrapped bytes are damaged, so no worker can unwrap it:
    // every range fails with a permanent HSM error.
    await fx.services.pool.query(
      `update "${fx.schema}".keys
          set wrapped_key = set_byte(wrapped_key, 5, get_byte(wrapped_key, 5) # 1)
        where id = $1`,
      [old.id],
    );
    await fx.startWorker();

    const requested = await fx.rotate('tenant-a');
    const run = await fx.waitForRun(requested.id, 60_000);

    expect(run.status).toBe('failed');
    expect(run.error).toMatch(
      /range\(s\) [\d, ]+ did not finish: REKEY_HSM_UNWRAP_FAILED/,
    );
    const ranges = await fx.services.runs.listRanges(run.id);
    expect(ranges.some((r) => r.status === 'failed')).toBe(true);
    expect(ranges.every((r) => r.status !== 'done' || r.rowsDone === 0)).toBe(
      true,
    );
    expect((await fx.services.keys.getKey(old.id))?.state).toBe('decrypt-only');
    expect(
      await fx.services.records.countRowsUnderKey('tenant-a', old.id),
    ).toBe(2_000);
    expect(await fx.queues.rotation.getWaitingChildrenCount()).toBe(0);
  });
});

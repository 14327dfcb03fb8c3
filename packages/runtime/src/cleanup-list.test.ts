import { describe, expect, it } from 'vitest';

import { CleanupList } from './cleanup-list.js';

describe('CleanupList', () => {
  it('runs every step in order, even after one fails, and reports the failure', async () => {
    const ran: string[] = [];
    const broken = new Error('queues would not close');
    const cleanup = new CleanupList()
      .add('http server', () => {
        ran.push('http server');
      })
      .add('queues', async () => {
        ran.push('queues');
        throw broken;
      })
      .add('postgres pool', async () => {
        ran.push('postgres pool');
      });

    const failures = await cleanup.run();

    expect(ran).toEqual(['http server', 'queues', 'postgres pool']);
    expect(failures).toEqual([{ name: 'queues', error: broken }]);
  });

  it('reports a step that throws before returning a promise', async () => {
    const broken = new Error('not listening');
    let poolEnded = false;
    const cleanup = new CleanupList()
      .add('http server', () => {
        throw broken;
      })
      .add('postgres pool', () => {
        poolEnded = true;
      });

    const failures = await cleanup.run();

    expect(failures).toEqual([{ name: 'http server', error: broken }]);
    expect(poolEnded).toBe(true);
  });

  it('runs each step once however often it is run', async () => {
    let runs = 0;
    const cleanup = new CleanupList().add('pool', () => {
      runs += 1;
    });

    const [first, second] = await Promise.all([cleanup.run(), cleanup.run()]);
    const third = await cleanup.run();

    expect(runs).toBe(1);
    expect(second).toBe(first);
    expect(third).toBe(first);
  });
});

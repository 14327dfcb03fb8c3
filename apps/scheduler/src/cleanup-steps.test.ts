import { describe, expect, it } from 'vitest';

import { CleanupSteps } from './cleanup-steps.js';

describe('CleanupSteps', () => {
  it('runs every step in order, even after one fails, and reports the failure', async () => {
    const ran: string[] = [];
    const broken = new Error('queues would not close');
    const steps = new CleanupSteps()
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

    const failures = await steps.run();

    expect(ran).toEqual(['http server', 'queues', 'postgres pool']);
    expect(failures).toEqual([{ name: 'queues', error: broken }]);
  });

  it('runs each step once however often it is run', async () => {
    let runs = 0;
    const steps = new CleanupSteps().add('pool', () => {
      runs += 1;
    });

    await Promise.all([steps.run(), steps.run()]);
    await steps.run();

    expect(runs).toBe(1);
  });
});

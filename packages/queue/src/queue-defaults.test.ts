import { describe, expect, it } from 'vitest';

import { defaultJobOptions, workerDefaults } from './queue-defaults.js';

describe('defaultJobOptions', () => {
  it.each(Object.entries(defaultJobOptions))(
    '%s retries with exponential backoff and trims finished jobs by age and count',
    (_, options) => {
      expect(options.attempts).toBeGreaterThan(1);
      expect(options.backoff.type).toBe('exponential');
      expect(options.removeOnComplete.age).toBeGreaterThan(0);
      expect(options.removeOnComplete.count).toBeGreaterThan(0);
      expect(options.removeOnFail.age).toBeGreaterThan(0);
      expect(options.removeOnFail.count).toBeGreaterThan(0);
    },
  );

  it('cannot be changed by a caller', () => {
    expect(Object.isFrozen(defaultJobOptions)).toBe(true);
    expect(Object.isFrozen(defaultJobOptions.rotateDek.backoff)).toBe(true);
  });
});

describe('workerDefaults', () => {
  it('lets a job survive several interrupted deploys', () => {
    expect(workerDefaults.maxStalledCount).toBeGreaterThanOrEqual(5);
  });

  it('checks for stalls no more often than locks are renewed', () => {
    expect(workerDefaults.stalledIntervalMillis).toBeGreaterThanOrEqual(
      workerDefaults.lockDurationMillis / 2,
    );
  });
});

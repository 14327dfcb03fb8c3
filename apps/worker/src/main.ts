#!/usr/bin/env node
import { serializeError } from '@rekey/runtime';

import { runWorker } from './worker-main.js';

runWorker().catch((error: unknown) => {
  // The logger may not exist yet (bad configuration): write one JSON line.
  process.stderr.write(
    `${JSON.stringify({ level: 'fatal', msg: 'worker failed to start', err: serializeError(error) })}\n`,
  );
  process.exit(1);
});

// Writes docs/errors.md from the error registry, so that the documentation
// lists exactly the codes the code has. Run after a build:
//   pnpm --filter @rekey/core docs:errors
import { writeFileSync } from 'node:fs';

import { errorCodes } from '../dist/index.js';

const rows = Object.entries(errorCodes).map(
  ([code, spec]) => `| \`${code}\` | ${spec.disposition} | ${spec.doc} |`,
);

writeFileSync(
  new URL('../../../docs/errors.md', import.meta.url),
  `# Error codes

Every error Rekey raises carries one of these stable codes; a code is never
reused. *Retryable* errors may succeed when tried again (a job queue retries
them with backoff); *permanent* ones end the job at once. The HTTP API
answers \`{ "error": { "code", "message" } }\`, and the CLI prints
\`rekey: <code>: <message>\`.

This file is generated from \`packages/core/src/errors/rekey-errors.ts\` by
\`pnpm --filter @rekey/core docs:errors\`; a test checks that the two agree.

| code | disposition | meaning |
|---|---|---|
${rows.join('\n')}
`,
);

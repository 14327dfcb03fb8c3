import { createLogger, type LoggerOptions } from '@rekey/runtime';
import type { Logger } from 'pino';

export {
  httpStatusOf,
  retryAfterSeconds,
  type ErrorBody,
} from './http-errors.js';
export {
  actorHeader,
  anonymousActor,
  failuresShown,
} from './rotation-routes.js';
export { buildSchedulerApp, type SchedulerDeps } from './scheduler-app.js';
export type {
  ActiveKeyFinder,
  DatabaseProbe,
  FailureRecord,
  RangeRecord,
  RotationQueue,
  RotationRunStore,
  RunProgress,
  RunRecord,
  RunStatus,
} from './scheduler-ports.js';

/**
 * The scheduler's root logger, for {@link buildSchedulerApp}: the runtime's
 * logger named `rekey-scheduler`, with its request and reply serializers
 * and with error stacks. Fastify gives each request a child of it.
 *
 * Level policy: `error` — an operator must act (a run could not be marked
 * failed, a request failed unexpectedly); `warn` — degraded but retrying
 * (Redis or PostgreSQL away, answered 503); `info` — lifecycle (start,
 * stop, rotation requested); `debug` — detail.
 *
 * @param options - the level, and where lines go
 * @returns a pino logger
 */
export function createSchedulerLogger(
  options: Pick<LoggerOptions, 'level' | 'destination'> = {},
): Logger {
  return createLogger({
    ...options,
    name: 'rekey-scheduler',
    http: true,
    errorStacks: true,
  });
}

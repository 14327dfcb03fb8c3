export { CleanupSteps, type CleanupFailure } from './cleanup-steps.js';
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
export {
  loadSchedulerConfig,
  schedulerEnvSchema,
  type SchedulerConfig,
} from './scheduler-config.js';
export {
  createSchedulerLogger,
  schedulerRedactPaths,
  serializeError,
} from './scheduler-logger.js';
export type {
  ActiveKeyFinder,
  DatabaseProbe,
  FailureRecord,
  RangeRecord,
  RotationQueue,
  RotationRunStore,
  RunRecord,
  RunStatus,
} from './scheduler-ports.js';

export {
  CleanupList,
  type CleanupFailure,
  type CleanupStep,
} from './cleanup-list.js';
export {
  describeServer,
  loadRuntimeConfig,
  requirePin,
  runtimeEnvSchema,
  type RuntimeConfig,
} from './runtime-config.js';
export {
  createLogger,
  httpSerializers,
  redactPaths,
  serializeError,
  type LoggedReply,
  type LoggedRequest,
  type LoggerOptions,
  type SerializeErrorOptions,
} from './runtime-logger.js';
export {
  openDatabaseServices,
  openKeyServices,
  type DatabaseServices,
  type KeyServices,
  type OpenServicesOptions,
} from './runtime-services.js';

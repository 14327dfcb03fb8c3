export {
  CleanupList,
  type CleanupFailure,
  type CleanupStep,
} from './cleanup-list.js';
export {
  loadRuntimeConfig,
  requirePin,
  runtimeEnvSchema,
  type RuntimeConfig,
} from './runtime-config.js';
export {
  createLogger,
  redactPaths,
  serializeError,
  type LoggerOptions,
} from './runtime-logger.js';
export {
  openDatabaseServices,
  openKeyServices,
  type DatabaseServices,
  type KeyServices,
  type OpenServicesOptions,
} from './runtime-services.js';

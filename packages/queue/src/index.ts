export {
  finalizeRotationJobSchema,
  parseJobData,
  reencryptRangeJobSchema,
  rotateDekJobSchema,
  type FinalizeRotationJob,
  type ReencryptRangeJob,
  type RotateDekJob,
} from './job-payload-schemas.js';
export { defaultJobOptions, workerDefaults } from './queue-defaults.js';
export {
  jobIds,
  jobNames,
  queueNames,
  type JobName,
  type QueueName,
  type RunRef,
} from './queue-names.js';
export { defaultQueuePrefix, validateQueuePrefix } from './queue-prefix.js';
export {
  createProducerConnection,
  createWorkerConnection,
  producerConnectionDefaults,
  readinessOf,
  reconnectBackoff,
  type ProducerConnectionOptions,
  type Readiness,
} from './redis-connections.js';
export {
  RekeyQueues,
  type QueueConnectionOptions,
  type RangeFlowInput,
  type RekeyQueuesOptions,
} from './rekey-queues.js';
export {
  createWorkerOptions,
  type RekeyWorkerOptionsInput,
} from './worker-options.js';

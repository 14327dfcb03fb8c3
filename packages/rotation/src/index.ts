export { recordContext } from './record-context.js';
export {
  reencryptTransform,
  type ReencryptTransformOptions,
} from './reencrypt-transform.js';
export {
  RotationEngine,
  type FinalizeOutcome,
  type RangeOutcome,
  type ReencryptRangeOptions,
  type RotationEngineOptions,
} from './rotation-engine.js';
export type { RotationEvent, RotationEventSink } from './rotation-events.js';
export {
  contextDocument,
  seedTenant,
  type SeedResult,
  type SeedTenantOptions,
} from './tenant-seeder.js';
export {
  verifyTenant,
  type VerifyFailure,
  type VerifyReport,
  type VerifyTenantOptions,
} from './tenant-verifier.js';
export {
  requestRotation,
  type RequestedRun,
  type RotationRequest,
  type RotationRequestDeps,
} from './rotation-requests.js';
export { retireDataKey, type KeyRetirementDeps } from './key-retirement.js';

export {
  aesKeyBytes,
  dekGenerateTemplate,
  dekReadTemplate,
  kekGenerateTemplate,
  kekUnwrapTemplate,
  masterKeyTemplate,
} from './key-templates.js';
export { ckrName, translatePkcs11Error } from './pkcs11-errors.js';
export { Pkcs11Hsm } from './pkcs11-hsm.js';
export {
  type Pkcs11HsmOptions,
  pkcs11HsmDefaults,
} from './pkcs11-hsm-options.js';
export type {
  Pkcs11Attribute,
  Pkcs11AttributeValue,
  Pkcs11Handle,
  Pkcs11Mechanism,
  Pkcs11MechanismInfo,
  Pkcs11Module,
  Pkcs11TokenInfo,
} from './pkcs11-module.js';
export {
  acquirePkcs11Module,
  type LoadedPkcs11Module,
  loadedPkcs11Modules,
  type Pkcs11ModuleLease,
} from './pkcs11-module-registry.js';
export {
  describeMechanisms,
  type DescribeMechanismsOptions,
  ensureMasterKey,
  type EnsureMasterKeyOptions,
  initTokenIfAbsent,
  type InitTokenOptions,
} from './token-admin.js';
export { listTokens, requireTokenSlot, type TokenSlot } from './token-slots.js';
export {
  inspectMechanism,
  type MechanismCapability,
  type MechanismReport,
  type MechanismRequirement,
  type WrapMechanismSpec,
  wrapMechanismSpecs,
} from './wrap-mechanisms.js';

export {
  errorCodes,
  isRekeyError,
  RekeyError,
  type Disposition,
  type ErrorCode,
  type RekeyErrorOptions,
} from './errors/rekey-errors.js';
export { KeyMaterial } from './keys/key-material.js';
export type {
  DataKey,
  KeyKind,
  KeyRecord,
  KeyState,
  NewKeyVersion,
  WrapMechanism,
  WrappedKey,
} from './keys/key-types.js';
export type { HsmPort, WrappingKey } from './ports/hsm-port.js';
export type { KeyStorePort } from './ports/key-store-port.js';
export {
  envelopeLayout,
  readEnvelopeHeader,
  splitEnvelope,
  writeEnvelopeHeader,
  type EnvelopeHeader,
  type EnvelopeParts,
} from './envelope/envelope-format.js';
export { buildRecordAad, type RecordContext } from './envelope/record-aad.js';
export { decryptRecord, encryptRecord } from './cipher/record-cipher.js';
export {
  KeyHierarchy,
  masterScope,
  type KeyHierarchyOptions,
} from './keys/key-hierarchy.js';

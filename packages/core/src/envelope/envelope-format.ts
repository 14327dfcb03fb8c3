import { RekeyError } from '../errors/rekey-errors.js';

/**
 * The byte layout of every ciphertext Rekey stores (format version 1):
 *
 * | offset | size | field                                          |
 * |--------|------|------------------------------------------------|
 * | 0      | 2    | magic `RK` (0x52 0x4B)                         |
 * | 2      | 1    | format version, 0x01                           |
 * | 3      | 1    | algorithm, 0x01 = AES-256-GCM, 96-bit IV, 128-bit tag |
 * | 4      | 4    | key id, unsigned big-endian                    |
 * | 8      | 4    | key version, unsigned big-endian               |
 * | 12     | 12   | IV, random per encryption                      |
 * | 24     | n    | ciphertext, as long as the plaintext           |
 * | 24 + n | 16   | GCM authentication tag                         |
 *
 * Bytes 0–11 (the header) are also part of the additional authenticated
 * data, so none of them can be changed without failing authentication.
 */
export const envelopeLayout = Object.freeze({
  magic: 0x524b,
  formatVersion: 1,
  algorithmAes256Gcm: 1,
  headerBytes: 12,
  ivBytes: 12,
  tagBytes: 16,
  /** Header, IV and tag: what an envelope adds to its plaintext. */
  overheadBytes: 40,
});

/** The fields of an envelope header. */
export interface EnvelopeHeader {
  readonly formatVersion: number;
  readonly algorithm: number;
  readonly keyId: number;
  readonly keyVersion: number;
}

/** An envelope split into its parts; the buffers are views, not copies. */
export interface EnvelopeParts extends EnvelopeHeader {
  readonly header: Buffer;
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

const maxUint32 = 0xffff_ffff;

/**
 * Writes an envelope header for a key.
 *
 * @param keyId - the key registry id, 0 to 2^32 - 1
 * @param keyVersion - the key's version within its scope
 * @throws RekeyError `REKEY_INPUT_INVALID` when either is out of range
 */
export function writeEnvelopeHeader(keyId: number, keyVersion: number): Buffer {
  assertUint32('key id', keyId);
  assertUint32('key version', keyVersion);

  const header = Buffer.allocUnsafe(envelopeLayout.headerBytes);
  header.writeUInt16BE(envelopeLayout.magic, 0);
  header.writeUInt8(envelopeLayout.formatVersion, 2);
  header.writeUInt8(envelopeLayout.algorithmAes256Gcm, 3);
  header.writeUInt32BE(keyId, 4);
  header.writeUInt32BE(keyVersion, 8);

  return header;
}

/**
 * Reads the header of a stored ciphertext, to learn which key made it.
 *
 * @throws RekeyError `REKEY_ENVELOPE_MALFORMED` when it is not an envelope
 *   of a known format
 */
export function readEnvelopeHeader(envelope: Uint8Array): EnvelopeHeader {
  const parts = splitEnvelope(envelope);

  return {
    formatVersion: parts.formatVersion,
    algorithm: parts.algorithm,
    keyId: parts.keyId,
    keyVersion: parts.keyVersion,
  };
}

/**
 * Splits an envelope into header, IV, ciphertext and tag.
 *
 * @throws RekeyError `REKEY_ENVELOPE_MALFORMED` when it is too short, has no
 *   magic, or names an unknown format or algorithm
 */
export function splitEnvelope(envelope: Uint8Array): EnvelopeParts {
  const bytes = Buffer.isBuffer(envelope)
    ? envelope
    : Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength);
  if (bytes.length < envelopeLayout.overheadBytes) {
    throw malformed(
      `it has ${bytes.length} bytes, fewer than the ${envelopeLayout.overheadBytes} of an empty envelope`,
    );
  }
  if (bytes.readUInt16BE(0) !== envelopeLayout.magic) {
    throw malformed('it does not start with the magic bytes "RK"');
  }
  const formatVersion = bytes.readUInt8(2);
  if (formatVersion !== envelopeLayout.formatVersion) {
    throw malformed(`format version ${formatVersion} is unknown`);
  }
  const algorithm = bytes.readUInt8(3);
  if (algorithm !== envelopeLayout.algorithmAes256Gcm) {
    throw malformed(`algorithm ${algorithm} is unknown`);
  }

  const ivEnd = envelopeLayout.headerBytes + envelopeLayout.ivBytes;
  const tagStart = bytes.length - envelopeLayout.tagBytes;

  return {
    formatVersion,
    algorithm,
    keyId: bytes.readUInt32BE(4),
    keyVersion: bytes.readUInt32BE(8),
    header: bytes.subarray(0, envelopeLayout.headerBytes),
    iv: bytes.subarray(envelopeLayout.headerBytes, ivEnd),
    ciphertext: bytes.subarray(ivEnd, tagStart),
    tag: bytes.subarray(tagStart),
  };
}

function assertUint32(what: string, value: number): void {
  if (Number.isInteger(value) && value >= 0 && value <= maxUint32) return;

  throw new RekeyError(
    'REKEY_INPUT_INVALID',
    `${what} ${value} does not fit the envelope: it must be an integer from 0 to ${maxUint32}`,
  );
}

function malformed(reason: string): RekeyError {
  return new RekeyError(
    'REKEY_ENVELOPE_MALFORMED',
    `the stored value is not a Rekey envelope: ${reason}; it was written by something other than Rekey, or truncated`,
  );
}

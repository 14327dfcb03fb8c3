/**
 * PostgreSQL's binary wire format for one-dimensional arrays (what
 * `array_send` writes and `array_recv` reads). node-postgres sends a Buffer
 * parameter in binary format, so an array encoded here reaches the server
 * without the text literal that node-postgres would otherwise build: a
 * bytea[] of 5,000 ciphertexts as text is a hex string twice the data's
 * size, which the server spends more time parsing than running the UPDATE.
 *
 * Layout, all integers big-endian:
 * `int32 ndim | int32 hasNulls | uint32 elementOid |
 *  (int32 length, int32 lowerBound) per dimension |
 *  (int32 byteLength or -1 for NULL, bytes) per element`.
 */

/** Type OIDs of the element types encoded here. */
export const pgTypeOids = Object.freeze({
  bytea: 17,
  int8: 20,
  text: 25,
});

/** An array read back from the binary format. */
export interface DecodedArray {
  readonly elementOid: number;
  /** Element bytes, as views into the decoded buffer; null for NULL. */
  readonly elements: ReadonlyArray<Buffer | null>;
}

const headerBytes = 12;
const dimensionBytes = 8;

/**
 * Encodes bigints as an int8[] parameter.
 *
 * @param values - the elements, each within the signed 64-bit range
 * @throws RangeError when a value does not fit in 64 bits
 */
export function encodeInt8Array(values: readonly bigint[]): Buffer {
  const buffer = Buffer.allocUnsafe(sizeOf(values.length, values.length * 8));
  let offset = writeHeader(buffer, pgTypeOids.int8, values.length);

  for (const value of values) {
    buffer.writeInt32BE(8, offset);
    buffer.writeBigInt64BE(value, offset + 4);
    offset += 12;
  }

  return buffer;
}

/**
 * Encodes byte strings as a bytea[] parameter.
 *
 * @param values - the elements
 */
export function encodeByteaArray(values: readonly Uint8Array[]): Buffer {
  let dataBytes = 0;
  for (const value of values) dataBytes += value.length;
  const buffer = Buffer.allocUnsafe(sizeOf(values.length, dataBytes));
  let offset = writeHeader(buffer, pgTypeOids.bytea, values.length);

  for (const value of values) {
    buffer.writeInt32BE(value.length, offset);
    buffer.set(value, offset + 4);
    offset += 4 + value.length;
  }

  return buffer;
}

/**
 * Encodes strings as a text[] parameter, in UTF-8.
 *
 * @param values - the elements; PostgreSQL text cannot hold U+0000
 */
export function encodeTextArray(values: readonly string[]): Buffer {
  const encoded = values.map((value) => Buffer.from(value, 'utf8'));
  const buffer = encodeByteaArray(encoded);
  buffer.writeUInt32BE(pgTypeOids.text, 8);

  return buffer;
}

/**
 * Reads a one-dimensional (or empty) array in the binary format.
 *
 * @param buffer - the array's bytes
 * @throws RangeError when the bytes are not such an array
 */
export function decodeBinaryArray(buffer: Buffer): DecodedArray {
  if (buffer.length < headerBytes) {
    throw new RangeError('a binary array has a 12-byte header');
  }

  const dimensions = buffer.readInt32BE(0);
  const elementOid = buffer.readUInt32BE(8);
  if (dimensions === 0) return { elementOid, elements: [] };
  if (dimensions !== 1) {
    throw new RangeError(`expected a one-dimensional array, got ${dimensions}`);
  }

  const count = readInt32At(buffer, headerBytes);
  const elements: Array<Buffer | null> = new Array(count);
  let offset = headerBytes + dimensionBytes;
  for (let i = 0; i < count; i++) {
    const length = readInt32At(buffer, offset);
    offset += 4;
    if (length === -1) {
      elements[i] = null;
      continue;
    }
    if (length < 0 || offset + length > buffer.length) {
      throw new RangeError(`array element ${i} runs past the end`);
    }
    elements[i] = buffer.subarray(offset, offset + length);
    offset += length;
  }
  if (offset !== buffer.length) {
    throw new RangeError('bytes remain after the last array element');
  }

  return { elementOid, elements };
}

/**
 * Reads an int8[] in the binary format.
 *
 * @throws RangeError when the bytes are not an int8[] without NULLs
 */
export function decodeInt8Array(buffer: Buffer): bigint[] {
  const { elementOid, elements } = decodeBinaryArray(buffer);
  expectOid(elementOid, pgTypeOids.int8);

  return elements.map((element, i) => {
    if (element === null || element.length !== 8) {
      throw new RangeError(`int8 element ${i} is NULL or not 8 bytes`);
    }

    return element.readBigInt64BE(0);
  });
}

/**
 * Reads a bytea[] in the binary format.
 *
 * @returns copies of the elements, independent of `buffer`
 * @throws RangeError when the bytes are not a bytea[] without NULLs
 */
export function decodeByteaArray(buffer: Buffer): Buffer[] {
  const { elementOid, elements } = decodeBinaryArray(buffer);
  expectOid(elementOid, pgTypeOids.bytea);

  return elements.map((element, i) => {
    if (element === null) throw new RangeError(`bytea element ${i} is NULL`);

    return Buffer.from(element);
  });
}

function sizeOf(count: number, dataBytes: number): number {
  if (count === 0) return headerBytes;

  return headerBytes + dimensionBytes + count * 4 + dataBytes;
}

function writeHeader(buffer: Buffer, oid: number, count: number): number {
  buffer.writeInt32BE(count === 0 ? 0 : 1, 0);
  buffer.writeInt32BE(0, 4); // no NULL elements
  buffer.writeUInt32BE(oid, 8);
  if (count === 0) return headerBytes;

  buffer.writeInt32BE(count, 12);
  buffer.writeInt32BE(1, 16); // lower bound: arrays start at 1

  return headerBytes + dimensionBytes;
}

function readInt32At(buffer: Buffer, offset: number): number {
  if (offset + 4 > buffer.length) {
    throw new RangeError('the binary array is truncated');
  }

  return buffer.readInt32BE(offset);
}

function expectOid(actual: number, expected: number): void {
  if (actual === expected) return;

  throw new RangeError(`expected element type ${expected}, got ${actual}`);
}

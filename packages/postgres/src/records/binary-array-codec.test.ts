import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  decodeBinaryArray,
  decodeByteaArray,
  decodeInt8Array,
  encodeByteaArray,
  encodeInt8Array,
  encodeTextArray,
  pgTypeOids,
} from './binary-array-codec.js';

describe('binary array codec', () => {
  it('round-trips int8 arrays, including both ends of the bigint range', () => {
    const values = [0n, 1n, -1n, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n];

    expect(decodeInt8Array(encodeInt8Array(values))).toEqual(values);
  });

  it('round-trips bytea arrays, empty elements included', () => {
    const values = [randomBytes(1024), Buffer.alloc(0), randomBytes(1)];

    expect(decodeByteaArray(encodeByteaArray(values))).toEqual(values);
  });

  it('round-trips large elements', () => {
    const values = [randomBytes(4 * 1024 * 1024), randomBytes(70_000)];

    const decoded = decodeByteaArray(encodeByteaArray(values));

    expect(decoded).toHaveLength(2);
    expect(decoded[0]!.equals(values[0]!)).toBe(true);
    expect(decoded[1]!.equals(values[1]!)).toBe(true);
  });

  it('round-trips many elements', () => {
    const values = Array.from({ length: 20_000 }, (_, i) => BigInt(i) * 7n);

    expect(decodeInt8Array(encodeInt8Array(values))).toEqual(values);
  });

  it('encodes text as UTF-8 with the text element type', () => {
    const values = ['REKEY_CIPHERTEXT_AUTH_FAILED', 'clé – ✓', ''];

    const decoded = decodeBinaryArray(encodeTextArray(values));

    expect(decoded.elementOid).toBe(pgTypeOids.text);
    expect(decoded.elements.map((e) => e?.toString('utf8'))).toEqual(values);
  });

  it('encodes an empty array as zero dimensions', () => {
    for (const buffer of [
      encodeInt8Array([]),
      encodeByteaArray([]),
      encodeTextArray([]),
    ]) {
      expect(buffer).toHaveLength(12);
      expect(buffer.readInt32BE(0)).toBe(0);
      expect(decodeBinaryArray(buffer).elements).toEqual([]);
    }
    expect(decodeInt8Array(encodeInt8Array([]))).toEqual([]);
    expect(decodeByteaArray(encodeByteaArray([]))).toEqual([]);
  });

  it('writes the header array_recv expects', () => {
    const buffer = encodeInt8Array([5n]);

    expect(buffer.readInt32BE(0)).toBe(1); // dimensions
    expect(buffer.readInt32BE(4)).toBe(0); // no NULLs
    expect(buffer.readUInt32BE(8)).toBe(20); // int8
    expect(buffer.readInt32BE(12)).toBe(1); // length
    expect(buffer.readInt32BE(16)).toBe(1); // lower bound
    expect(buffer.readInt32BE(20)).toBe(8); // element size
    expect(buffer.readBigInt64BE(24)).toBe(5n);
    expect(buffer).toHaveLength(32);
  });

  it('refuses a bigint outside 64 bits', () => {
    expect(() => encodeInt8Array([2n ** 63n])).toThrow(RangeError);
  });

  it('reads NULL elements and refuses them where a value is required', () => {
    const buffer = Buffer.alloc(24);
    buffer.writeInt32BE(1, 0);
    buffer.writeInt32BE(1, 4);
    buffer.writeUInt32BE(pgTypeOids.bytea, 8);
    buffer.writeInt32BE(1, 12);
    buffer.writeInt32BE(1, 16);
    buffer.writeInt32BE(-1, 20);

    expect(decodeBinaryArray(buffer).elements).toEqual([null]);
    expect(() => decodeByteaArray(buffer)).toThrow(/NULL/);
  });

  it('refuses truncated or mistyped input', () => {
    const buffer = encodeByteaArray([randomBytes(16)]);

    expect(() => decodeBinaryArray(buffer.subarray(0, 8))).toThrow(RangeError);
    expect(() => decodeBinaryArray(buffer.subarray(0, 30))).toThrow(RangeError);
    expect(() =>
      decodeBinaryArray(Buffer.concat([buffer, Buffer.of(0)])),
    ).toThrow(/remain/);
    expect(() => decodeInt8Array(buffer)).toThrow(/element type/);
  });
});

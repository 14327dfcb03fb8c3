import pg from 'pg';

import type { PgTypeParsers } from '../pool/pg-pool-like.js';
import { pgTypeOids } from './binary-array-codec.js';

/**
 * Result parsers for the batch path: int8 as bigint (row ids exceed 2^53
 * in principle) and bytea hex text straight into a Buffer; every other
 * type as node-postgres parses it.
 *
 * Known shortcoming: results are read in text format, so each ciphertext
 * crosses the wire as hex, twice its size. node-postgres 8.x decodes every
 * result field as UTF-8 before handing it to a parser, which corrupts
 * binary-format values (any byte sequence that is not valid UTF-8), so
 * `binary: true` cannot be used for bytea. Once the driver hands binary
 * fields over as bytes, reading in binary format removes the hex step.
 *
 * @internal
 */
export const textResultParsers: PgTypeParsers = Object.freeze({
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (format === 'text' || format === undefined) {
      if (oid === pgTypeOids.int8) return parseInt8;
      if (oid === pgTypeOids.bytea) return parseBytea;
    }

    return pg.types.getTypeParser(oid, format ?? 'text');
  },
});

const parseDefaultBytea = pg.types.getTypeParser(pgTypeOids.bytea, 'text');

function parseInt8(value: string): bigint {
  return BigInt(value);
}

function parseBytea(value: string): Buffer {
  // `\x` + hex is bytea_output = hex, the default since PostgreSQL 9.0;
  // the escape format goes through the driver's parser.
  if (value.startsWith('\\x')) return Buffer.from(value.substring(2), 'hex');

  return parseDefaultBytea(value) as Buffer;
}

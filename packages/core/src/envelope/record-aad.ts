import { RekeyError } from '../errors/rekey-errors.js';

/**
 * Where a ciphertext belongs. Every field is bound into the AES-GCM
 * additional authenticated data, so a value copied to another tenant, table,
 * column or row fails authentication instead of decrypting.
 */
export interface RecordContext {
  readonly tenantId: string;
  /** The table, schema-qualified as configured (e.g. `rekey.context_records`). */
  readonly table: string;
  readonly column: string;
  /** The row's id; bigint, safe integer or its decimal text. */
  readonly rowId: bigint | number | string;
}

const label = Buffer.from('rekey.aad.v1', 'ascii');
const maxFieldBytes = 0xffff;

/**
 * Builds the additional authenticated data of one record. Writers and readers
 * (the application, the API, the workers) must all use this one function.
 *
 * Layout: the ASCII label `rekey.aad.v1`, the 12-byte envelope header, then
 * tenant id, table, column and row id (decimal), each as a 2-byte big-endian
 * length followed by its UTF-8 bytes.
 *
 * @param header - the envelope header of the ciphertext
 * @param context - where the record lives
 * @throws RekeyError `REKEY_INPUT_INVALID` for an empty field, a field over
 *   65,535 bytes, or a row id that is not an integer
 */
export function buildRecordAad(header: Buffer, context: RecordContext): Buffer {
  const fields = [
    field('tenant id', context.tenantId),
    field('table', context.table),
    field('column', context.column),
    field('row id', rowIdText(context.rowId)),
  ];
  const size = fields.reduce((n, f) => n + 2 + f.length, 0);

  const aad = Buffer.allocUnsafe(label.length + header.length + size);
  let offset = label.copy(aad, 0);
  offset += header.copy(aad, offset);
  for (const f of fields) {
    offset = aad.writeUInt16BE(f.length, offset);
    offset += f.copy(aad, offset);
  }

  return aad;
}

function field(what: string, value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length === 0 || bytes.length > maxFieldBytes) {
    throw new RekeyError(
      'REKEY_INPUT_INVALID',
      `the record's ${what} must have 1 to ${maxFieldBytes} bytes, got ${bytes.length}`,
    );
  }

  return bytes;
}

function rowIdText(rowId: bigint | number | string): string {
  const text = typeof rowId === 'string' ? rowId : rowId.toString();
  if (!/^(0|-?[1-9][0-9]*)$/.test(text)) {
    throw new RekeyError(
      'REKEY_INPUT_INVALID',
      `the record's row id must be an integer, got ${JSON.stringify(text.slice(0, 40))}`,
    );
  }

  return text;
}

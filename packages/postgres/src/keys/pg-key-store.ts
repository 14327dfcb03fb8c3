import {
  RekeyError,
  type KeyKind,
  type KeyRecord,
  type KeyStorePort,
  type NewKeyVersion,
  type WrapMechanism,
  type WrappedKey,
} from '@rekey/core';
import { sql, type Kysely, type Selectable } from 'kysely';

import {
  classifyPgError,
  sqlStateOf,
  withPgErrors,
} from '../errors/pg-error-classifier.js';
import type { KeysTable, RekeyDatabase } from '../schema/rekey-database.js';
import { toSafeNumber } from '../schema/row-values.js';

const kinds: ReadonlySet<string> = new Set<KeyKind>(['master', 'kek', 'dek']);

/**
 * The key registry in PostgreSQL: every version of every master key, KEK
 * and DEK in the `keys` table, with the wrapped bytes of KEKs and DEKs.
 * Master keys never leave the HSM; their rows hold only the token label.
 */
export class PgKeyStore implements KeyStorePort {
  readonly #db: Kysely<RekeyDatabase>;

  /** @param db - from `createDatabase`, addressing Rekey's schema */
  constructor(db: Kysely<RekeyDatabase>) {
    this.#db = db;
  }

  /**
   * The key with this id, if any.
   *
   * @throws RekeyError with a database code
   */
  async getKey(id: number): Promise<KeyRecord | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;

    const row = await withPgErrors(() =>
      this.#db
        .selectFrom('keys')
        .selectAll()
        .where('id', '=', String(id))
        .executeTakeFirst(),
    );

    return row === undefined ? undefined : toKeyRecord(row);
  }

  /**
   * The active version of a scope, if any.
   *
   * @throws RekeyError with a database code
   */
  async findActiveKey(
    kind: KeyKind,
    scope: string,
  ): Promise<KeyRecord | undefined> {
    const row = await withPgErrors(() =>
      this.#db
        .selectFrom('keys')
        .selectAll()
        .where('kind', '=', kind)
        .where('scope', '=', scope)
        .where('state', '=', 'active')
        .executeTakeFirst(),
    );

    return row === undefined ? undefined : toKeyRecord(row);
  }

  /**
   * Every version of a scope, oldest first.
   *
   * @throws RekeyError with a database code
   */
  async listKeys(kind: KeyKind, scope: string): Promise<KeyRecord[]> {
    const rows = await withPgErrors(() =>
      this.#db
        .selectFrom('keys')
        .selectAll()
        .where('kind', '=', kind)
        .where('scope', '=', scope)
        .orderBy('version')
        .execute(),
    );

    return rows.map(toKeyRecord);
  }

  /**
   * Adds version max + 1 of the scope as `active` (with `activated_at`
   * set) and demotes the active version, if any, to `decrypt-only`, in one
   * transaction. A second call with the same `createdByRun` returns the
   * version the first one made.
   *
   * Concurrent calls for one scope are serialised by a transaction-level
   * advisory lock taken by the first statement, before anything is read.
   * The transaction runs in READ COMMITTED, so every read after the lock
   * sees what the previous holder committed; under REPEATABLE READ the
   * snapshot would predate the lock wait.
   *
   * @throws RekeyError `REKEY_INPUT_INVALID` for a malformed version, or a
   *   database code
   */
  async addActiveVersion(key: NewKeyVersion): Promise<KeyRecord> {
    checkNewVersion(key);
    const runId =
      key.createdByRun === undefined ? null : String(key.createdByRun);

    const row = await missingWrapperAsNotFound(key, () =>
      this.#db
        .transaction()
        .setIsolationLevel('read committed')
        .execute(async (trx) => {
          await sql`select pg_advisory_xact_lock(hashtextextended(${`rekey.keys:${key.kind}:${key.scope}`}, 0))`.execute(
            trx,
          );

          if (runId !== null) {
            const existing = await trx
              .selectFrom('keys')
              .selectAll()
              .where('kind', '=', key.kind)
              .where('scope', '=', key.scope)
              .where('created_by_run', '=', runId)
              .executeTakeFirst();
            if (existing !== undefined) return existing;
          }

          const { latest } = await trx
            .selectFrom('keys')
            .select((eb) => eb.fn.max('version').as('latest'))
            .where('kind', '=', key.kind)
            .where('scope', '=', key.scope)
            .executeTakeFirstOrThrow();

          await trx
            .updateTable('keys')
            .set({ state: 'decrypt-only' })
            .where('kind', '=', key.kind)
            .where('scope', '=', key.scope)
            .where('state', '=', 'active')
            .execute();

          return trx
            .insertInto('keys')
            .values({
              kind: key.kind,
              scope: key.scope,
              version: (latest ?? 0) + 1,
              state: 'active',
              wrapped_by_id: key.wrappedById,
              wrap_mechanism: key.wrapped?.mechanism ?? null,
              wrapped_key: key.wrapped?.bytes ?? null,
              hsm_label: key.hsmLabel,
              created_by_run: runId,
              activated_at: sql<Date>`now()`,
            })
            .returningAll()
            .executeTakeFirstOrThrow();
        }),
    );

    return toKeyRecord(row);
  }

  /**
   * Marks a `decrypt-only` key `retired` and sets `retired_at`; a retired
   * key is returned as it is. This step does not count the rows still
   * encrypted under the key: the caller must have found none.
   *
   * @throws RekeyError `REKEY_KEY_NOT_FOUND` for an unknown id,
   *   `REKEY_KEY_STATE_INVALID` when the key is active
   */
  async retireKey(id: number): Promise<KeyRecord> {
    const row = await withPgErrors(() =>
      this.#db.transaction().execute(async (trx) => {
        const current = Number.isSafeInteger(id)
          ? await trx
              .selectFrom('keys')
              .selectAll()
              .where('id', '=', String(id))
              .forUpdate()
              .executeTakeFirst()
          : undefined;
        if (current === undefined) {
          throw new RekeyError('REKEY_KEY_NOT_FOUND', `no key has id ${id}`, {
            details: { keyId: id },
          });
        }
        if (current.state === 'active') {
          throw new RekeyError(
            'REKEY_KEY_STATE_INVALID',
            `key ${id} is the active version of its scope; rotate it before retiring it`,
            { details: { keyId: id, state: current.state } },
          );
        }
        if (current.state === 'retired') return current;

        return trx
          .updateTable('keys')
          .set({ state: 'retired', retired_at: sql<Date>`now()` })
          .where('id', '=', current.id)
          .returningAll()
          .executeTakeFirstOrThrow();
      }),
    );

    return toKeyRecord(row);
  }
}

/**
 * Runs `work`, turning a foreign-key violation (23503), which only
 * `wrapped_by_id` can cause, into `REKEY_KEY_NOT_FOUND`.
 */
async function missingWrapperAsNotFound<T>(
  key: NewKeyVersion,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (sqlStateOf(error) !== '23503') throw classifyPgError(error);

    throw new RekeyError(
      'REKEY_KEY_NOT_FOUND',
      `the wrapping key ${key.wrappedById} of the new ${key.kind} version does not exist`,
      {
        cause: classifyPgError(error),
        details: { keyId: key.wrappedById ?? 0 },
      },
    );
  }
}

function checkNewVersion(key: NewKeyVersion): void {
  const problem = !kinds.has(key.kind)
    ? `unknown key kind ${JSON.stringify(key.kind)}`
    : typeof key.scope !== 'string' || key.scope.length === 0
      ? 'a key needs a non-empty scope'
      : key.createdByRun !== undefined &&
          !(Number.isSafeInteger(key.createdByRun) && key.createdByRun > 0)
        ? 'createdByRun must be a positive integer'
        : key.wrapped !== null && key.wrapped.bytes.length === 0
          ? 'a wrapped key cannot be empty'
          : undefined;
  if (problem === undefined) return;

  throw new RekeyError('REKEY_INPUT_INVALID', problem);
}

function toKeyRecord(row: Selectable<KeysTable>): KeyRecord {
  const wrapped =
    row.wrapped_key === null || row.wrap_mechanism === null
      ? null
      : wrappedKey(row.wrap_mechanism as WrapMechanism, row.wrapped_key);

  return Object.freeze({
    id: toSafeNumber(row.id, 'key id'),
    kind: row.kind,
    scope: row.scope,
    version: row.version,
    state: row.state,
    wrappedById:
      row.wrapped_by_id === null
        ? null
        : toSafeNumber(row.wrapped_by_id, 'wrapping key id'),
    wrapped,
    hsmLabel: row.hsm_label,
    createdAt: row.created_at,
    retiredAt: row.retired_at,
  });
}

/** A wrapped key whose bytes stay out of `JSON.stringify` and spreads. */
function wrappedKey(mechanism: WrapMechanism, bytes: Buffer): WrappedKey {
  const key = { mechanism } as { mechanism: WrapMechanism; bytes: Buffer };
  Object.defineProperty(key, 'bytes', { value: bytes, enumerable: false });

  return Object.freeze(key);
}

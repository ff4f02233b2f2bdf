import { stdSerializers } from 'pino';

/**
 * What may leave the store of a failed statement. PGlite's errors carry the statement's
 * `params` (a password hash, a chat message) and `query`; PostgreSQL's carry the values
 * in `detail` ("Failing row contains (…)", "Key (email)=(…)") and `where`; and pino
 * logs every enumerable field of an error. So the engines' errors never leave the
 * database layer: they become a `DatabaseError` with the SQLSTATE and the names of what
 * failed (constraint, table, column), never a value.
 */
export class DatabaseError extends Error {
  override name = 'DatabaseError';
  /** The SQLSTATE (`23505` for a unique violation…), the same on both engines. */
  readonly code?: string;
  readonly severity?: string;
  readonly constraint?: string;
  readonly table?: string;
  readonly column?: string;
  readonly dataType?: string;
  readonly routine?: string;

  constructor(source: Record<string, unknown>) {
    super(withoutQuotedValue(typeof source.message === 'string' ? source.message : 'The database refused the statement.'));
    for (const field of ['code', 'severity', 'constraint', 'table', 'column', 'dataType', 'routine'] as const) {
      const value = source[field];
      if (typeof value === 'string' && value) Object.assign(this, { [field]: value });
    }
  }
}

/**
 * PostgreSQL puts the offending value at the end of some messages
 * (`invalid input syntax for type uuid: "…"`, `invalid input value for enum …: "…"`).
 */
function withoutQuotedValue(message: string): string {
  return message.replace(/: "[\s\S]*"$/, ': "[value removed]"');
}

/** An engine's error as a `DatabaseError`; anything that is not a database error passes as it is. */
export function toDatabaseError(error: unknown): unknown {
  if (error instanceof DatabaseError || !(error instanceof Error)) return error;
  const fields = error as unknown as Record<string, unknown>;
  const fromEngine = typeof fields.code === 'string' && /^[0-9A-Z]{5}$/.test(fields.code) && ('severity' in fields || 'routine' in fields);
  return fromEngine ? new DatabaseError(fields) : error;
}

/** Runs one database call; its failure leaves with no statement values (see `DatabaseError`). */
export async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toDatabaseError(error);
  }
}

/** Fields of an error (at any depth of its causes) that can hold a statement's values. */
const VALUE_FIELDS = ['params', 'parameters', 'query', 'queryOptions', 'values', 'detail', 'where', 'internalQuery'];

/**
 * The pino serializer for `err`: pino's own, minus any field that can hold a statement's
 * values. A second wall behind `DatabaseError`, for errors that never passed the store
 * (a library's own query, a wrapped cause).
 */
export function errorWithoutQueryValues(error: unknown): unknown {
  const serialized = error instanceof Error ? stdSerializers.err(error) : error;
  return stripValueFields(serialized, 0);
}

function stripValueFields(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null || depth > 5) return value;
  if (Array.isArray(value)) return value.map((item) => stripValueFields(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (VALUE_FIELDS.includes(key)) continue;
    copy[key] = key === 'cause' || key === 'aggregateErrors' ? stripValueFields(field, depth + 1) : field;
  }
  return copy;
}

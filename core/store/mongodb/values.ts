/**
 * What the MongoDB area files share. Client input only ever lands in filters as a checked string
 * or number (never an object that could be an operator); free-form objects (signed
 * associations, invite fields, onbind bodies) are stored as JSON text so their keys are never
 * interpreted.
 */
import { MongoBulkWriteError, MongoServerError } from 'mongodb';

const DUPLICATE_KEY = 11000;
/** Values per $in list. */
export const CHUNK = 1000;

export function text(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string`);
  return value;
}
export function texts(values: unknown, name: string): string[] {
  if (!Array.isArray(values)) throw new TypeError(`${name} must be a list of strings`);
  return values.map((value) => text(value, name));
}
export function integer(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new TypeError(`${name} must be an integer`);
  return value;
}
export function optionalText(value: unknown, name: string): string | null {
  return value === null ? null : text(value, name);
}
export function optionalInteger(value: unknown, name: string): number | null {
  return value === null ? null : integer(value, name);
}
export function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}
export function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY;
}
/** insertMany with ordered:false failed only because some documents were already there. */
export function onlyDuplicates(error: unknown): boolean {
  if (!(error instanceof MongoBulkWriteError) || error.err || error.result?.getWriteConcernError()) return false;
  const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
  return writeErrors.length > 0 && writeErrors.every((writeError) => writeError.code === DUPLICATE_KEY);
}
/** insertMany, ordered:false, where documents already there (a unique key) are fine. */
export async function insertIgnoringDuplicates(insert: () => Promise<unknown>): Promise<void> {
  try {
    await insert();
  } catch (error) {
    if (!onlyDuplicates(error)) throw error;
  }
}
/**
 * An upsert racing another on a unique key can fail with a duplicate key error; run again it
 * matches the winner's document (the server retries some of these itself, not all).
 */
export async function withUpsertRetry<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    return write();
  }
}

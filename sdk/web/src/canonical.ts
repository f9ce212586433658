/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): the exact bytes a bundle's signature covers.
 *
 * JCS is ECMAScript's own JSON serialisation with object members sorted by their names'
 * UTF-16 code units and no whitespace, so numbers and strings are written by
 * `JSON.stringify` itself (RFC 8785 §3.2.2.2-3) and only the structure is walked here.
 */

/** A JSON value as JCS accepts it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [name: string]: JsonValue };

/** Why a value has no canonical form. */
export class CanonicalizationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CanonicalizationError";
  }
}

/** The RFC 8785 canonical form of `value`. */
export function canonicalize(value: unknown): string {
  return write(value, "$");
}

function write(value: unknown, path: string): string {
  if (value === null || typeof value === "boolean") {
    return String(value);
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new CanonicalizationError(`${path}: ${value} has no JSON form (RFC 8785 §3.2.2.3)`);
    }
    // -0 is written as 0, as JSON.stringify does.
    return JSON.stringify(value);
  }
  if (typeof value === "string") {
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map((item, i) => write(item, `${path}[${i}]`)).join(",")}]`;
  }
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const object = value as Record<string, unknown>;
    // Array.prototype.sort compares strings by UTF-16 code units: JCS's order (§3.2.3).
    const names = Object.keys(object).sort();
    const members: string[] = [];
    for (const name of names) {
      const member = object[name];
      if (member === undefined) {
        throw new CanonicalizationError(`${path}.${name}: undefined has no JSON form`);
      }
      members.push(`${JSON.stringify(name)}:${write(member, `${path}.${name}`)}`);
    }
    return `{${members.join(",")}}`;
  }
  throw new CanonicalizationError(`${path}: a ${typeof value} has no JSON form`);
}

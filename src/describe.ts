/**
 * What arrived, for the "got …" half of an error message. A wrong argument may well be a secret
 * (a token passed where an id was expected, a key typed into the wrong YAML field), so a string
 * or an object is only ever named by its kind, never quoted.
 * @module
 */

/**
 * Names the kind of `value` without quoting it: `"a string"`, `"a number"`, `"an array"`, …
 *
 * @example describe("sk-live-123") // "a string"
 */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "an invalid Date" : "a Date";
  switch (typeof value) {
    case "undefined":
      return "undefined";
    case "string":
      return value === "" ? "an empty string" : "a string";
    case "object":
      return "an object";
    default:
      return `a ${typeof value}`;
  }
}

/**
 * Like {@link describe}, but shows a number or a boolean as it is: for settings (timeouts,
 * thresholds, counts), whose wrong value says more than its kind and cannot be a secret. Where a
 * string was expected, use {@link describe}: a number there may be a key written without quotes.
 *
 * @example describeSetting(-1) // "-1"
 */
export function describeSetting(value: unknown): string {
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return describe(value);
}

/** A plain JSON object: not an array, not null. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The JSON object `text` holds, or undefined when it is not JSON or not an object. Never throws,
 * so the parser's message, which may quote the text, goes nowhere.
 */
export function parseRecord(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

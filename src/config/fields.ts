/**
 * Zod building blocks whose messages are written here and never quote the value they reject,
 * so a secret in the wrong place cannot leak through a validation error.
 * @module
 */
import * as z from "zod";
import { describe } from "../describe.js";
import { closest } from "../suggest.js";
import { type DurationBounds, parseDuration } from "./duration.js";
import { showKey } from "./path.js";

/** What a field check returns. */
export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

/** Re-exported for the config modules that name what arrived. */
export { describe };

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const fail = <T>(message: string): Checked<T> => ({ ok: false, message });

function expected(what: string, value: unknown): string {
  if (value === undefined) return "is required";
  const hint =
    what.startsWith("a string") && (typeof value === "number" || typeof value === "boolean")
      ? " (quote it in YAML)"
      : "";
  return `expected ${what}, got ${describe(value)}${hint}`;
}

/**
 * The error map for the issues zod raises itself (structure: lists, mappings, missing keys).
 * Field-level messages come from the checks below.
 */
export function errorMap(issue: z.core.$ZodRawIssue): string {
  const input = issue.input;
  switch (issue.code) {
    case "invalid_type": {
      const names: Record<string, string> = {
        array: "a list",
        object: "a mapping",
        record: "a mapping",
        string: "a string",
        number: "a number",
        boolean: "a boolean",
      };
      return expected(names[issue.expected] ?? issue.expected, input);
    }
    case "too_small":
      return `must have at least ${String(issue.minimum)} entries`;
    case "too_big":
      return `must have at most ${String(issue.maximum)} entries`;
    case "unrecognized_keys":
      return `unknown keys ${issue.keys.map(showKey).join(", ")}`;
    case "invalid_key":
      return "invalid key";
    default:
      return "invalid value";
  }
}

/** A zod schema from a check: the value passes through `check`, whose message becomes the issue. */
export function field<T>(check: (value: unknown) => Checked<T>) {
  return z.unknown().transform((value, ctx): T => {
    const result = check(value);
    if (result.ok) return result.value;
    ctx.addIssue({ code: "custom", message: result.message });
    return z.NEVER;
  });
}

/** Options of {@link str}. */
export interface StringRules {
  nonEmpty?: boolean;
  maxLength?: number;
  /** A pattern the string must match, with a description for the message. */
  pattern?: [RegExp, string];
}

/** Checks a string. */
export function checkString(value: unknown, rules: StringRules = {}): Checked<string> {
  if (typeof value !== "string") return fail(expected("a string", value));
  if (rules.nonEmpty && value.trim() === "") return fail("must not be empty");
  if (rules.maxLength !== undefined && value.length > rules.maxLength) {
    return fail(`must be at most ${rules.maxLength} characters long`);
  }
  if (rules.pattern && !rules.pattern[0].test(value)) return fail(`must ${rules.pattern[1]}`);
  return ok(value);
}

/** A string field. */
export const str = (rules: StringRules = {}) => field((v) => checkString(v, rules));

/** Options of {@link num}. */
export interface NumberRules {
  min?: number;
  max?: number;
  /** Whether `min` itself is excluded. */
  minExclusive?: boolean;
  integer?: boolean;
}

const NUMERIC = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

/** A number field. Numeric strings count, since `${VAR}` substitution always yields strings. */
export const num = (rules: NumberRules = {}) =>
  field((value): Checked<number> => {
    let n: number;
    if (typeof value === "number") n = value;
    else if (typeof value === "string" && NUMERIC.test(value.trim())) n = Number(value.trim());
    else return fail(expected("a number", value));
    if (!Number.isFinite(n)) return fail("must be a finite number");
    if (rules.integer && !Number.isInteger(n)) return fail("must be a whole number");
    const { min, max } = rules;
    const tooSmall = min !== undefined && (rules.minExclusive ? n <= min : n < min);
    if (tooSmall || (max !== undefined && n > max)) {
      const low =
        min === undefined ? "" : rules.minExclusive ? `greater than ${min}` : `at least ${min}`;
      const high = max === undefined ? "" : `at most ${max}`;
      return fail(`must be ${[low, high].filter(Boolean).join(" and ")}`);
    }
    return ok(n);
  });

const TRUE = new Set(["true", "True", "TRUE"]);
const FALSE = new Set(["false", "False", "FALSE"]);

/** A boolean field; `"true"`/`"false"` strings count, as `${VAR}` substitution yields them. */
export const bool = () =>
  field((value): Checked<boolean> => {
    if (typeof value === "boolean") return ok(value);
    if (typeof value === "string" && TRUE.has(value)) return ok(true);
    if (typeof value === "string" && FALSE.has(value)) return ok(false);
    return fail(expected("true or false", value));
  });

/** Checks that a string is one of `values`, suggesting the closest one (never echoing the input). */
export function checkOneOf<T extends string>(value: unknown, values: readonly T[]): Checked<T> {
  const list = values.map((v) => `"${v}"`).join(", ");
  if (typeof value !== "string") return fail(expected(`one of ${list}`, value));
  if ((values as readonly string[]).includes(value)) return ok(value as T);
  const guess = closest(value, values);
  return fail(`expected one of ${list}${guess ? `; did you mean "${guess}"?` : ""}`);
}

/** A field taking one of a few names. */
export const oneOf = <const T extends string>(values: readonly T[]) =>
  field((v) => checkOneOf(v, values));

/** A duration field: milliseconds or `"90s"`-style strings, within `bounds`. */
export const duration = (bounds: DurationBounds = {}) =>
  field((value): Checked<number> => {
    const result = parseDuration(value, bounds);
    return result.ok ? ok(result.ms) : fail(result.message);
  });

// Full RFC 3339 date-time: a time zone is required, so a bare date cannot mean local midnight.
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** A point in time: an RFC 3339 string, or the `Date` a YAML 1.1 timestamp becomes. */
export const date = () =>
  field((value): Checked<Date> => {
    const message = 'not a date: expected an RFC 3339 time such as "2025-11-16T10:00:00Z"';
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? fail(message) : ok(value);
    if (typeof value !== "string") return fail(value === undefined ? "is required" : message);
    const m = RFC3339.exec(value);
    if (!m) return fail(message);
    const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
    const days = new Date(Date.UTC(y!, mo!, 0)).getUTCDate();
    // Date.parse rolls 2025-02-30 over into March; the fields must be in range themselves.
    if (mo! < 1 || mo! > 12 || d! < 1 || d! > days || h! > 23 || mi! > 59 || s! > 60) {
      return fail(message);
    }
    const t = Date.parse(value.replace(" ", "T"));
    return Number.isNaN(t) ? fail(message) : ok(new Date(t));
  });

type Shape = Record<string, z.ZodType>;

/**
 * A mapping with a fixed set of keys. Unknown keys are reported one by one, at their own path,
 * with the closest known key as a suggestion. `refine` runs even when fields failed, so that
 * every mistake is reported at once; it must therefore check the types it relies on.
 */
export function strict<S extends Shape>(
  shape: S,
  refine?: (value: Record<string, unknown>, ctx: z.core.$RefinementCtx) => void,
) {
  const known = Object.keys(shape);
  return z.looseObject(shape).superRefine(
    (value, ctx) => {
      if (!isRecord(value)) return;
      for (const key of Object.keys(value)) {
        if (Object.hasOwn(shape, key)) continue;
        const guess = closest(key, known);
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: guess
            ? `unknown key ${showKey(key)}, did you mean "${guess}"?`
            : `unknown key ${showKey(key)} (known keys: ${known.join(", ")})`,
        });
      }
      refine?.(value, ctx);
    },
    { when: () => true },
  );
}

/** Whether a value is a plain mapping (what the YAML walker produces for maps). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}

/**
 * Validates `value` against `schema` inside another field's check, reporting the inner issues
 * at their own paths. For fields that take either a name or a mapping.
 */
export function subParse<T>(
  schema: z.ZodType<T>,
  value: unknown,
  ctx: z.core.$RefinementCtx,
): T | typeof z.NEVER {
  const result = schema.safeParse(value, { error: errorMap });
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
  }
  return z.NEVER;
}

/**
 * Objects that keep secrets out of `console.log`, `util.inspect` and `JSON.stringify` while their
 * fields still read as the real values: credentials, monitoring configurations and parsed config
 * files hand their secrets to the code that uses them, and to no log.
 *
 * The view lives on the prototype, so a spread copy or a field read gets the real values (the
 * caller owns them), and giving an object the view costs no more than a plain object.
 * @module
 */
import { inspect } from "node:util";
import { REDACTED } from "./redact.js";

/** How a field is shown, from its real value. */
export type FieldMask = (value: unknown) => unknown;

/** Shows a set value as `[REDACTED]`, and an array as that many `[REDACTED]`s. */
export const hidden: FieldMask = (value) => {
  if (value === undefined || value === null || value === "") return value;
  if (Array.isArray(value)) return value.map(() => REDACTED);
  return REDACTED;
};

/**
 * A frozen prototype for objects whose `util.inspect` and `toJSON` show their own enumerable
 * fields with `masks` applied (fields without a mask as they are). Make one per kind of object and
 * share it; give it to an object with {@link withRedactingView} or {@link redactingCopy}.
 *
 * @example
 * const VIEW = redactingPrototype({ apiKey: hidden });
 * const safe = redactingCopy(VIEW, { name: "a", apiKey: "sk-…" });
 * safe.apiKey; // "sk-…"
 * JSON.stringify(safe); // {"name":"a","apiKey":"[REDACTED]"}
 */
export function redactingPrototype(masks: Readonly<Record<string, FieldMask>>): object {
  const shown = (fields: object): Record<string, unknown> => {
    const out: Record<string, unknown> = { ...fields };
    for (const [key, mask] of Object.entries(masks)) {
      if (Object.hasOwn(out, key)) out[key] = mask(out[key]);
    }
    return out;
  };
  return Object.freeze(
    Object.defineProperties(Object.create(Object.prototype), {
      [inspect.custom]: {
        // A plain object back: inspect formats it in place, nested and indented like any other.
        value(this: object) {
          return shown(this);
        },
      },
      toJSON: {
        value(this: object) {
          return shown(this);
        },
      },
    }),
  );
}

/** `fields` copied onto a fresh object with the view of `proto`. */
export function redactingCopy<T extends object>(proto: object, fields: T): T {
  return Object.assign(Object.create(proto) as T, fields);
}

/**
 * Gives `obj`, a plain object of ours that nobody else holds yet, the view of `proto` in place.
 * @returns `obj`
 */
export function withRedactingView<T extends object>(obj: T, proto: object): T {
  Object.setPrototypeOf(obj, proto);
  return obj;
}

/** The secret fields of an `OAuthCredentialSet`, hidden in every credential handed out. */
export const CREDENTIAL_VIEW: object = redactingPrototype({
  accessToken: hidden,
  refreshToken: hidden,
  clientSecret: hidden,
});

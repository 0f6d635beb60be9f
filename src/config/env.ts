/**
 * `${VAR}` substitution on parsed YAML values, and the conversion of YAML maps to plain objects.
 * @module
 */
import { type PathSegment, showKey } from "./path.js";

/** Where a problem was found, with a message that never quotes a value. */
export interface RawIssue {
  path: PathSegment[];
  message: string;
}

/** Environment variables by name, as `process.env`. */
export type Env = Record<string, string | undefined>;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Deeper nesting has no place in this configuration and would only cost stack. */
const MAX_DEPTH = 64;
// biome-ignore lint/suspicious/noTemplateCurlyInString: the placeholder syntax, shown literally
const PLACEHOLDER_HINT = "expected ${NAME} or ${NAME:-default} (write $${ for a literal ${)";

/**
 * Stands in for a string whose substitution failed. Any check of the value then fails at the
 * same path (and is dropped as a repeat), while checks of the enclosing mapping see a value
 * there and do not report it missing.
 */
export const UNRESOLVED: object = Object.freeze(Object.create(null));

/** The result of {@link substitute}: the string, or why it could not be built. */
export type SubstituteResult = { ok: true; value: string } | { ok: false; message: string };

/**
 * Replaces `${NAME}` with the variable's value and `${NAME:-default}` with the value, or the
 * default when the variable is unset or empty (as in POSIX shells); `$${` yields a literal `${`.
 * Values are inserted as they are, never re-scanned. The failure message names the variable,
 * never a value.
 */
export function substitute(text: string, env: Env): SubstituteResult {
  if (!text.includes("${")) return { ok: true, value: text };
  let out = "";
  let i = 0;
  while (i < text.length) {
    if (text.startsWith("$${", i)) {
      out += "${";
      i += 3;
      continue;
    }
    if (!text.startsWith("${", i)) {
      out += text[i];
      i += 1;
      continue;
    }
    const end = text.indexOf("}", i + 2);
    if (end < 0) return { ok: false, message: `unterminated placeholder: ${PLACEHOLDER_HINT}` };
    const inner = text.slice(i + 2, end);
    const sep = inner.indexOf(":-");
    const name = sep < 0 ? inner : inner.slice(0, sep);
    const fallback = sep < 0 ? undefined : inner.slice(sep + 2);
    if (!NAME.test(name)) return { ok: false, message: `invalid placeholder: ${PLACEHOLDER_HINT}` };
    if (fallback?.includes("${")) {
      return { ok: false, message: `nested placeholders are not supported: ${PLACEHOLDER_HINT}` };
    }
    const raw = env[name];
    // typeof guards against names such as `constructor` that plain objects inherit.
    const value = typeof raw === "string" ? raw : undefined;
    if (value === undefined || (value === "" && fallback !== undefined)) {
      if (fallback === undefined) {
        return {
          ok: false,
          message: `environment variable ${name} is not set (write \${${name}:-default} to give a default)`,
        };
      }
      out += fallback;
    } else {
      out += value;
    }
    i = end + 1;
  }
  return { ok: true, value: out };
}

/**
 * Walks what the YAML parser produced (with `mapAsMap`), turning maps into plain objects and
 * substituting every string value. Problems are appended to `issues`; a string that could not
 * be substituted becomes {@link UNRESOLVED}, other offending values are left out.
 */
export function resolveValues(value: unknown, env: Env, issues: RawIssue[]): unknown {
  return walk(value, env, issues, [], 0);
}

function walk(
  value: unknown,
  env: Env,
  issues: RawIssue[],
  path: PathSegment[],
  depth: number,
): unknown {
  if (depth > MAX_DEPTH) {
    issues.push({ path, message: `nested more than ${MAX_DEPTH} levels deep` });
    return undefined;
  }
  if (typeof value === "string") {
    const result = substitute(value, env);
    if (result.ok) return result.value;
    issues.push({ path, message: result.message });
    return UNRESOLVED;
  }
  if (Array.isArray(value)) {
    return value.map((item, index) => walk(item, env, issues, [...path, index], depth + 1));
  }
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [rawKey, item] of value) {
      if (rawKey !== null && typeof rawKey === "object") {
        issues.push({
          path,
          message: "a mapping key must be a plain value, not a list or mapping",
        });
        continue;
      }
      // YAML allows `1:` or `true:` as keys; as names they mean their text.
      const key = String(rawKey ?? "");
      if (Object.hasOwn(out, key)) {
        issues.push({ path, message: `duplicate key ${showKey(key)}` });
        continue;
      }
      if (key === "__proto__") {
        issues.push({ path, message: `key ${showKey(key)} is not allowed` });
        continue;
      }
      out[key] = walk(item, env, issues, [...path, key], depth + 1);
    }
    return out;
  }
  return value;
}

/**
 * `ProviderData`, the provider facts kept beside a credential's tokens: its check, copy and
 * merge, shared by the pool, the refresh path and the token stores.
 * @module
 */
import { describe } from "./describe.js";
import { closest } from "./suggest.js";
import type { ProviderData } from "./types.js";

/** The fields a `ProviderData` may have, each an optional string. */
export const PROVIDER_DATA_FIELDS = [
  "resourceUrl",
  "accountId",
  "projectId",
] as const satisfies readonly (keyof ProviderData)[];

const KNOWN: ReadonlySet<string> = new Set(PROVIDER_DATA_FIELDS);

/** `ProviderData` as configuration files and stored tokens write it, in snake_case. */
export interface SnakeProviderData {
  resource_url?: string | undefined;
  account_id?: string | undefined;
  project_id?: string | undefined;
}

/** Each field's name in snake_case: the one table both directions below read. */
const SNAKE_NAMES = {
  resourceUrl: "resource_url",
  accountId: "account_id",
  projectId: "project_id",
} as const satisfies Record<(typeof PROVIDER_DATA_FIELDS)[number], keyof SnakeProviderData>;

/** The `ProviderData` a snake_case record gives; fields it leaves out stay out. */
export function providerDataFromSnake(w: SnakeProviderData): ProviderData {
  const d: ProviderData = {};
  for (const field of PROVIDER_DATA_FIELDS) {
    const value = w[SNAKE_NAMES[field]];
    if (value !== undefined) d[field] = value;
  }
  return d;
}

/** `d` in snake_case, as {@link providerDataFromSnake} reads it back. */
export function providerDataToSnake(d: ProviderData): SnakeProviderData {
  const w: SnakeProviderData = {};
  for (const field of PROVIDER_DATA_FIELDS) {
    const value = d[field];
    if (value !== undefined) w[SNAKE_NAMES[field]] = value;
  }
  return w;
}

/** One problem with a value given as `ProviderData`, relative to it (`""` for the value itself). */
export interface ProviderDataIssue {
  /** `""`, or `.resourceUrl` and the like. */
  path: string;
  message: string;
}

/**
 * Every problem with `value` as a `ProviderData`: an object whose fields are among
 * {@link PROVIDER_DATA_FIELDS}, each a string when present. Names kinds, never quotes values.
 */
export function providerDataIssues(value: unknown): ProviderDataIssue[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return [{ path: "", message: `must be an object, got ${describe(value)}` }];
  }
  const issues: ProviderDataIssue[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (!KNOWN.has(key)) {
      const guess = closest(key, PROVIDER_DATA_FIELDS);
      issues.push({
        path: `.${key}`,
        message: `is not a known field${guess ? ` (did you mean "${guess}"?)` : ""}; expected ${PROVIDER_DATA_FIELDS.join(", ")}`,
      });
    } else if (v !== undefined && typeof v !== "string") {
      issues.push({ path: `.${key}`, message: `must be a string, got ${describe(v)}` });
    }
  }
  return issues;
}

/** A copy of checked `ProviderData` with only its set fields (no `undefined` values). */
export function copyProviderData(data: Readonly<ProviderData>): ProviderData {
  const out: ProviderData = {};
  for (const key of PROVIDER_DATA_FIELDS) {
    const v = data[key];
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/**
 * `before` with the fields `fresh` sets replacing its own: a token endpoint that answers with only
 * some facts (Qwen's `resource_url`, say) does not erase the others. Undefined when neither has any.
 */
export function mergeProviderData(
  before: Readonly<ProviderData> | undefined,
  fresh: Readonly<ProviderData> | undefined,
): ProviderData | undefined {
  const merged = { ...(before && copyProviderData(before)), ...(fresh && copyProviderData(fresh)) };
  return Object.keys(merged).length > 0 ? merged : undefined;
}

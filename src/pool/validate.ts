/**
 * The check of credentials entering the pool: every problem reported at once, by path, never
 * quoting a secret.
 * @module
 */
import { describe } from "../describe.js";
import type { ConfigIssue } from "../errors.js";
import { providerDataIssues } from "../provider-data.js";
import type { OAuthCredentialSet } from "../types.js";

/**
 * Every problem with the given credentials, by path; never quotes a secret.
 * @param inPool whether an id is already taken
 * @param path how the list is named in messages (`credentials`, or `credential` for one)
 */
export function validateCredentials(
  credentials: readonly unknown[],
  inPool: (id: string) => boolean,
  path: string,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, number>();
  credentials.forEach((raw, i) => {
    const at = credentials.length === 1 && path === "credential" ? path : `${path}[${i}]`;
    if (typeof raw !== "object" || raw === null) {
      issues.push({ path: at, message: `expected a credential object, got ${describe(raw)}` });
      return;
    }
    const c = raw as Partial<Record<keyof OAuthCredentialSet, unknown>>;
    const name = typeof c.id === "string" && c.id !== "" ? `${at} (${c.id})` : at;
    if (typeof c.id !== "string" || c.id.trim() === "") {
      issues.push({ path: `${at}.id`, message: "must be a non-empty string" });
    } else if (inPool(c.id)) {
      issues.push({ path: `${at}.id`, message: `duplicate id "${c.id}": already in the pool` });
    } else if (seen.has(c.id)) {
      issues.push({
        path: `${at}.id`,
        message: `duplicate id "${c.id}": also used by ${path}[${seen.get(c.id)}]`,
      });
    } else {
      seen.set(c.id, i);
    }
    if (c.accessToken !== undefined && typeof c.accessToken !== "string") {
      issues.push({ path: `${name}.accessToken`, message: "must be a string" });
    }
    if (c.refreshToken !== undefined && typeof c.refreshToken !== "string") {
      issues.push({ path: `${name}.refreshToken`, message: "must be a string" });
    }
    // An external credential with a source file takes its first token from that file.
    const fromSource = c.owner === "external" && c.source !== undefined;
    if (!c.accessToken && !c.refreshToken && !fromSource) {
      issues.push({ path: name, message: "needs an accessToken or a refreshToken" });
    }
    issues.push(...ownerIssues(c.owner, c.source, name));
    for (const key of ["expiresAt", "lastRefresh"] as const) {
      const v = c[key];
      if (v !== undefined && (!(v instanceof Date) || Number.isNaN(v.getTime()))) {
        issues.push({ path: `${name}.${key}`, message: "must be a valid Date" });
      }
    }
    if (
      c.weight !== undefined &&
      (typeof c.weight !== "number" || !Number.isFinite(c.weight) || c.weight < 0)
    ) {
      issues.push({ path: `${name}.weight`, message: "must be a finite number >= 0" });
    }
    if (
      c.scopes !== undefined &&
      (!Array.isArray(c.scopes) || c.scopes.some((s) => typeof s !== "string"))
    ) {
      issues.push({ path: `${name}.scopes`, message: "must be an array of strings" });
    }
    if (c.providerData !== undefined) {
      for (const issue of providerDataIssues(c.providerData)) {
        issues.push({ path: `${name}.providerData${issue.path}`, message: issue.message });
      }
    }
    if (c.onTokenRefresh !== undefined && typeof c.onTokenRefresh !== "function") {
      issues.push({ path: `${name}.onTokenRefresh`, message: "must be a function" });
    }
  });
  return issues;
}

const SOURCE_FORMATS: readonly string[] = ["gemini-cli", "qwen-code", "claude-code", "codex"];

/** What is wrong with a credential's `owner` and `source`. */
function ownerIssues(owner: unknown, source: unknown, name: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (owner !== undefined && owner !== "manager" && owner !== "external") {
    issues.push({ path: `${name}.owner`, message: 'must be "manager" or "external"' });
  }
  if (source === undefined) return issues;
  if (owner !== "external") {
    issues.push({ path: `${name}.source`, message: 'is only read for owner "external"' });
  }
  if (typeof source !== "object" || source === null) {
    issues.push({ path: `${name}.source`, message: "must be an object { format, path }" });
    return issues;
  }
  const { format, path } = source as Record<string, unknown>;
  if (typeof format !== "string" || !SOURCE_FORMATS.includes(format)) {
    issues.push({
      path: `${name}.source.format`,
      message: `must be one of ${SOURCE_FORMATS.join(", ")}`,
    });
  }
  if (typeof path !== "string" || path === "") {
    issues.push({ path: `${name}.source.path`, message: "must be a non-empty string" });
  }
  return issues;
}

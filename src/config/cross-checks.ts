/**
 * Checks across the entries of a provider, run on the raw values so they still report when some
 * entry has other mistakes too.
 * @module
 */
import type { RawIssue } from "./env.js";
import { isRecord } from "./fields.js";
import type { PathSegment } from "./path.js";
import { showKey } from "./path.js";

/** The credential id `createManagers` gives the API key at `index`: key-1, key-2, … */
export const apiKeyId = (index: number): string => `key-${index + 1}`;

/**
 * Appends to `issues` every duplicate credential id, id taken by an API key, shared refresh
 * token and repeated API key, in every provider of `data`. Messages name positions, never values
 * other than ids.
 */
export function checkProviders(data: unknown, issues: RawIssue[]): void {
  if (!isRecord(data) || !isRecord(data.providers)) return;
  for (const [name, provider] of Object.entries(data.providers)) {
    if (isRecord(provider)) checkProvider(provider, ["providers", name], issues);
  }
}

function checkProvider(provider: Record<string, unknown>, at: PathSegment[], issues: RawIssue[]) {
  const creds = Array.isArray(provider.oauth_credentials) ? provider.oauth_credentials : [];
  const keys = Array.isArray(provider.api_keys) ? provider.api_keys : [];
  const ids = new Map<string, number>();
  const refreshTokens = new Map<string, number>();
  const reserved = new Map(keys.map((_, i) => [apiKeyId(i), i]));
  creds.forEach((cred: unknown, i) => {
    if (!isRecord(cred)) return;
    const { id, refresh_token: refreshToken } = cred;
    if (typeof id === "string") {
      const first = ids.get(id);
      if (first !== undefined) {
        issues.push({
          path: [...at, "oauth_credentials", i, "id"],
          message: `duplicate id ${showKey(id)}: oauth_credentials[${first}] has it too`,
        });
      } else ids.set(id, i);
      const keyIndex = reserved.get(id);
      if (keyIndex !== undefined) {
        issues.push({
          path: [...at, "oauth_credentials", i, "id"],
          message: `id ${showKey(id)} is taken by api_keys[${keyIndex}] (API keys are named key-1, key-2, …)`,
        });
      }
    }
    if (typeof refreshToken === "string" && refreshToken !== "") {
      const first = refreshTokens.get(refreshToken);
      if (first !== undefined) {
        issues.push({
          path: [...at, "oauth_credentials", i, "refresh_token"],
          message: `the same refresh token as oauth_credentials[${first}]: a refresh token cannot be shared`,
        });
      } else refreshTokens.set(refreshToken, i);
    }
  });
  const seen = new Map<string, number>();
  keys.forEach((key: unknown, i) => {
    if (typeof key !== "string") return;
    const first = seen.get(key);
    if (first !== undefined) {
      issues.push({ path: [...at, "api_keys", i], message: `the same key as api_keys[${first}]` });
    } else seen.set(key, i);
  });
}

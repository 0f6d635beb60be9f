/**
 * Issue paths as users read them: `providers.gemini.oauth_credentials[1].expires_at`.
 * @module
 */

/** One step into the configuration: a mapping key or a list index. */
export type PathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;
/** Keys longer than this are not shown: a long key is more likely a pasted secret than a name. */
const MAX_SHOWN_KEY = 64;

/** Renders a key for a message: quoted when it needs it, hidden when suspiciously long. */
export function showKey(key: string): string {
  if (key.length > MAX_SHOWN_KEY) return `<key of ${key.length} characters>`;
  return JSON.stringify(key);
}

/** Formats a path; `""` is the whole document. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else {
      const key = String(segment);
      if (PLAIN_KEY.test(key) && key.length <= MAX_SHOWN_KEY) out += out ? `.${key}` : key;
      else out += `[${showKey(key)}]`;
    }
  }
  return out;
}

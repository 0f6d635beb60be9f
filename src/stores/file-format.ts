/**
 * The on-disk format of `FileTokenStore`: turning its entries into file text and back, with the
 * encryption envelope when a key is set. Pure: no file system access.
 *
 * ## File format (version 1)
 *
 * A plain file is a JSON object, pretty-printed so a person can read and fix it:
 *
 * ```json
 * {
 *   "version": 1,
 *   "tokens": {
 *     "gemini/work": {
 *       "access_token": "ya29.…",
 *       "refresh_token": "1//0g…",
 *       "expires_at": "2026-11-25T10:00:00.000Z",
 *       "last_refresh": "2026-11-25T09:00:00.000Z",
 *       "refresh_count": 3,
 *       "scopes": ["openid"],
 *       "provider_data": { "resource_url": "…", "account_id": "…", "project_id": "…" },
 *       "rotation": {
 *         "created_at": "2026-11-01T00:00:00.000Z",
 *         "marked_for_rotation": false,
 *         "rotation_started_at": "…", "replacement_id": "work-2", "decommission_at": "…"
 *       },
 *       "version": 4,
 *       "updated_at": "2026-11-25T09:00:00.012Z"
 *     }
 *   }
 * }
 * ```
 *
 * - `version` (top level): the format version; only `1` is read.
 * - `tokens`: one entry per store key (the manager uses `"<provider>/<credentialId>"`).
 *   `access_token` is required; every other field is optional and absent when unset (never `null`).
 * - `provider_data` (added within version 1: files without it still load, and older readers
 *   ignore it): the credential's provider facts, each field an optional string. No secrets.
 * - Dates are RFC 3339 strings (written in UTC with milliseconds; any offset is read).
 * - Unknown fields are ignored when read and not kept by the next write.
 * - `version` (per token) is set by the store: one more on every save of that key.
 *   `updated_at` is when the store last wrote that key.
 *
 * With an encryption key the file holds only ciphertext, the plain document above encrypted with
 * AES-256-GCM (a fresh random 12-byte IV on every write; every field base64):
 *
 * ```json
 * { "version": 1, "encrypted": { "alg": "A256GCM", "iv": "…", "tag": "…", "data": "…" } }
 * ```
 * @module
 */

import type { KeyObject } from "node:crypto";
import * as z from "zod";
import { isRecord } from "../describe.js";
import { providerDataFromSnake, providerDataToSnake } from "../provider-data.js";
import { decrypt, ENCRYPTION_ALG, encrypt } from "./crypto.js";
import type { StoredRotation, StoredToken } from "./types.js";

/** The format version written, and the only one read. */
export const FORMAT_VERSION = 1;

/** What one key holds in the file. */
export interface FileEntry {
  token: StoredToken;
  /** When the store last wrote this key, as written (RFC 3339); undefined in hand-written files. */
  updatedAt: string | undefined;
}

/**
 * What reading a file's bytes gave:
 * - `ok`: the entries, and whether the file was encrypted;
 * - `corrupt`: not JSON, not this format, or an invalid field (`detail` says where, never quoting
 *   a value);
 * - `no-key`: an encrypted file and no key to read it;
 * - `undecryptable`: the tag did not verify (a wrong key or a tampered file).
 */
export type DecodeResult =
  | { kind: "ok"; entries: Map<string, FileEntry>; encrypted: boolean }
  | { kind: "corrupt"; detail: string }
  | { kind: "no-key" }
  | { kind: "undecryptable" };

const MAX_ISSUES_SHOWN = 5;

const dateString = z.iso.datetime({
  offset: true,
  error: "expected an RFC 3339 date-time string",
});
const count = z
  .number({ error: "expected an integer >= 0" })
  .int({ error: "expected an integer >= 0" })
  .nonnegative({ error: "expected an integer >= 0" });
const str = z.string({ error: "expected a string" });

const wireRotation = z.object(
  {
    created_at: dateString,
    marked_for_rotation: z.boolean({ error: "expected true or false" }),
    rotation_started_at: dateString.optional(),
    replacement_id: str.optional(),
    decommission_at: dateString.optional(),
  },
  { error: "expected an object" },
);

const wireProviderData = z.object(
  {
    resource_url: str.optional(),
    account_id: str.optional(),
    project_id: str.optional(),
  },
  { error: "expected an object" },
);

const wireUsage = z.array(
  z.object(
    {
      window: z.enum(["hour", "day", "month"], { error: "expected hour, day or month" }),
      start: dateString,
      tokens: z.number({ error: "expected a number >= 0" }).nonnegative(),
      cost: z.number({ error: "expected a number >= 0" }).nonnegative(),
    },
    { error: "expected an object" },
  ),
  { error: "expected an array" },
);

/** One token as written, also the shape `RedisTokenStore` stores. @internal */
export const wireToken = z.object(
  {
    access_token: str,
    refresh_token: str.optional(),
    expires_at: dateString.optional(),
    last_refresh: dateString.optional(),
    refresh_count: count.optional(),
    scopes: z.array(str, { error: "expected an array of strings" }).optional(),
    provider_data: wireProviderData.optional(),
    rotation: wireRotation.optional(),
    usage: wireUsage.optional(),
    version: count.optional(),
    updated_at: dateString.optional(),
  },
  { error: "expected an object" },
);

const wireEncrypted = z.object({
  version: z.literal(FORMAT_VERSION, { error: `expected ${FORMAT_VERSION}` }),
  encrypted: z.object(
    {
      alg: z.literal(ENCRYPTION_ALG, { error: `expected "${ENCRYPTION_ALG}"` }),
      iv: str,
      tag: str,
      data: str,
    },
    { error: "expected an object" },
  ),
});

/** @internal */
export type WireToken = z.infer<typeof wireToken>;
type WireRotation = z.infer<typeof wireRotation>;

/** The file text for `entries`: the plain document, or its encrypted envelope when `key` is set. */
export function encodeFile(entries: Map<string, FileEntry>, key: KeyObject | undefined): string {
  const tokens: Record<string, WireToken> = {};
  for (const [name, entry] of entries) {
    // defineProperty, not assignment: a key such as "__proto__" must stay a plain entry.
    Object.defineProperty(tokens, name, {
      value: toWire(entry),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  const text = `${JSON.stringify({ version: FORMAT_VERSION, tokens }, null, 2)}\n`;
  if (!key) return text;
  const encrypted = encrypt(text, key);
  return `${JSON.stringify({ version: FORMAT_VERSION, encrypted }, null, 2)}\n`;
}

/** Reads a file's bytes. Never throws on bad content: the result says what is wrong with it. */
export function decodeFile(raw: Buffer, key: KeyObject | undefined): DecodeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch (err) {
    // V8's message may quote the file's text, which holds tokens: keep only where it failed.
    return { kind: "corrupt", detail: `not valid JSON${jsonErrorWhere(err)}` };
  }
  if (!isRecord(parsed) || !("encrypted" in parsed)) return validate(parsed, false);
  const envelope = wireEncrypted.safeParse(parsed);
  if (!envelope.success) return { kind: "corrupt", detail: formatIssues(envelope.error.issues) };
  if (!key) return { kind: "no-key" };
  const plain = decrypt(envelope.data.encrypted, key);
  if (plain === undefined) return { kind: "undecryptable" };
  try {
    parsed = JSON.parse(plain);
  } catch {
    return { kind: "corrupt", detail: "its decrypted content is not valid JSON" };
  }
  return validate(parsed, true);
}

function validate(doc: unknown, encrypted: boolean): DecodeResult {
  if (!isRecord(doc)) {
    return { kind: "corrupt", detail: `expected a JSON object at the top, got ${jsonType(doc)}` };
  }
  if (doc.version !== FORMAT_VERSION) {
    const newer = typeof doc.version === "number" && doc.version > FORMAT_VERSION;
    return {
      kind: "corrupt",
      detail: newer
        ? `version: format ${doc.version} was written by a newer oauthmanager; this one reads ${FORMAT_VERSION}`
        : `version: expected ${FORMAT_VERSION}, got ${jsonType(doc.version)}`,
    };
  }
  if (!isRecord(doc.tokens)) {
    return { kind: "corrupt", detail: `tokens: expected an object, got ${jsonType(doc.tokens)}` };
  }
  const entries = new Map<string, FileEntry>();
  const problems: string[] = [];
  for (const [name, value] of Object.entries(doc.tokens)) {
    const where = `tokens${pathSegment(name)}`;
    if (name === "") {
      problems.push(`${where}: expected a non-empty key`);
      continue;
    }
    const parsed = wireToken.safeParse(value);
    if (parsed.success) entries.set(name, fromWire(parsed.data));
    else problems.push(formatIssues(parsed.error.issues, where));
  }
  if (problems.length > 0) return { kind: "corrupt", detail: problems.join("; ") };
  return { kind: "ok", entries, encrypted };
}

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "an array";
  return `a ${typeof v}`;
}

function jsonErrorWhere(err: unknown): string {
  const message = err instanceof Error ? err.message : "";
  if (message.includes("end of JSON input")) return " (it ends too early: truncated?)";
  const position = /at position (\d+)/.exec(message)?.[1];
  return position ? ` (at byte ${position})` : "";
}

function pathSegment(segment: PropertyKey): string {
  if (typeof segment === "number") return `[${segment}]`;
  const s = String(segment);
  return /^[A-Za-z_$][\w$]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`;
}

function formatIssues(issues: z.ZodError["issues"], prefix = ""): string {
  const shown = issues.slice(0, MAX_ISSUES_SHOWN).map((issue) => {
    let where = prefix;
    for (const segment of issue.path) where += pathSegment(segment);
    if (where.startsWith(".")) where = where.slice(1);
    return `${where || "(top)"}: ${issue.message}`;
  });
  const more = issues.length - shown.length;
  return more > 0 ? `${shown.join("; ")}; and ${more} more` : shown.join("; ");
}

/** A checked wire token as a {@link StoredToken}. @internal */
export function fromWire(w: WireToken): FileEntry {
  const token: StoredToken = { accessToken: w.access_token };
  if (w.refresh_token !== undefined) token.refreshToken = w.refresh_token;
  if (w.expires_at !== undefined) token.expiresAt = new Date(w.expires_at);
  if (w.last_refresh !== undefined) token.lastRefresh = new Date(w.last_refresh);
  if (w.refresh_count !== undefined) token.refreshCount = w.refresh_count;
  if (w.scopes !== undefined) token.scopes = w.scopes;
  if (w.provider_data !== undefined) token.providerData = providerDataFromSnake(w.provider_data);
  if (w.rotation !== undefined) token.rotation = rotationFromWire(w.rotation);
  if (w.usage !== undefined) {
    token.usage = w.usage.map((u) => ({ ...u, start: new Date(u.start) }));
  }
  if (w.version !== undefined) token.version = w.version;
  return { token, updatedAt: w.updated_at };
}

function rotationFromWire(w: WireRotation): StoredRotation {
  const r: StoredRotation = {
    createdAt: new Date(w.created_at),
    markedForRotation: w.marked_for_rotation,
  };
  if (w.rotation_started_at !== undefined) r.rotationStartedAt = new Date(w.rotation_started_at);
  if (w.replacement_id !== undefined) r.replacementId = w.replacement_id;
  if (w.decommission_at !== undefined) r.decommissionAt = new Date(w.decommission_at);
  return r;
}

/** A {@link StoredToken} as written. @internal */
export function toWire({ token, updatedAt }: FileEntry): WireToken {
  const w: WireToken = { access_token: token.accessToken };
  if (token.refreshToken !== undefined) w.refresh_token = token.refreshToken;
  if (token.expiresAt !== undefined) w.expires_at = token.expiresAt.toISOString();
  if (token.lastRefresh !== undefined) w.last_refresh = token.lastRefresh.toISOString();
  if (token.refreshCount !== undefined) w.refresh_count = token.refreshCount;
  if (token.scopes !== undefined) w.scopes = token.scopes;
  if (token.providerData !== undefined) w.provider_data = providerDataToSnake(token.providerData);
  if (token.rotation !== undefined) {
    const r = token.rotation;
    const wr: WireRotation = {
      created_at: r.createdAt.toISOString(),
      marked_for_rotation: r.markedForRotation,
    };
    if (r.rotationStartedAt !== undefined)
      wr.rotation_started_at = r.rotationStartedAt.toISOString();
    if (r.replacementId !== undefined) wr.replacement_id = r.replacementId;
    if (r.decommissionAt !== undefined) wr.decommission_at = r.decommissionAt.toISOString();
    w.rotation = wr;
  }
  if (token.usage !== undefined) {
    w.usage = token.usage.map((u) => ({ ...u, start: u.start.toISOString() }));
  }
  if (token.version !== undefined) w.version = token.version;
  if (updatedAt !== undefined) w.updated_at = updatedAt;
  return w;
}

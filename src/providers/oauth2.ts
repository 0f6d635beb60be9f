/**
 * The OAuth 2.0 refresh grant (RFC 6749 §6) as a `RefreshFunc`, for any standard token endpoint
 * and for the providers that differ from the standard in small ways (a JSON body, a public client,
 * their own word for a dead grant).
 *
 * Why not oauth4webapi, the reference client: its request side fits the form-encoded path, but
 * that is the easy part. Its response processing cannot be used here: it requires a `token_type`
 * of `bearer` or `dpop`, validates any `id_token` against an issuer that a bare token URL does not
 * have (Codex's answers carry one), takes an `error` in a 200 for a malformed answer rather than
 * an OAuth error, and reads the body without a size cap. The JSON-body providers need a request of
 * their own anyway, and plain-http endpoints (local servers) need a flag on every call. What is
 * left to write is one POST and a careful reading of its answer, kept in this folder; the tests
 * check the request against oauth4webapi's and run against oidc-provider, a server nobody here
 * wrote.
 * @module
 */
import { onAbort } from "../abort.js";
import { describe } from "../describe.js";
import { RefreshError } from "../errors.js";
import { rejectUnknownKeys } from "../suggest.js";
import type { OAuthCredentialSet, ProviderData, RefreshFunc } from "../types.js";
import { readCappedText } from "./read-capped.js";
import {
  type BodyFormat,
  type ClientAuth,
  type ClientCredentials,
  RESERVED_PARAMS,
  refreshRequest,
} from "./token-request.js";
import { failure, readTokenAnswer } from "./token-response.js";

/** Options of {@link oauth2Refresh}. */
export interface OAuth2RefreshOptions {
  /** The token endpoint, `https:` (or `http:` for a server on this machine or network). */
  tokenUrl: string;
  /** @default the credential's `clientId`, then the provider preset's public client id */
  clientId?: string;
  /** @default the credential's `clientSecret`, then the provider preset's public client secret */
  clientSecret?: string;
  /** `body`: `client_id`/`client_secret` in the body; `basic`: HTTP Basic. @default "body" */
  clientAuth?: ClientAuth;
  /** `form`: `application/x-www-form-urlencoded` (RFC 6749); `json`: a JSON object. @default "form" */
  bodyFormat?: BodyFormat;
  /** Sent as `scope` when given. @default not sent: the grant keeps its scopes */
  scope?: string;
  /** More body fields the provider wants. @default {} */
  extraParams?: Record<string, string>;
  /** More request headers (e.g. a `User-Agent` the provider expects). @default {} */
  headers?: Record<string, string>;
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
  /** How long the endpoint may take to answer, body included. @default 30_000 */
  timeoutMs?: number;
}

/** For provider presets: what a provider does differently. */
export interface ProviderHooks {
  /** Public client id used when neither the options nor the credential give one. */
  defaultClientId?: string;
  /** The public client's secret, sent only with {@link ProviderHooks.defaultClientId}. */
  defaultClientSecret?: string;
  /** Provider facts taken from a successful token response (merged into cred.providerData). */
  providerData?: (body: Readonly<Record<string, unknown>>) => ProviderData | undefined;
  /** The provider's own way of saying the grant is dead, beyond invalid_grant/invalid_client/unauthorized_client. */
  isPermanent?: (error: {
    oauthError: string | undefined;
    status: number;
    description: string | undefined;
  }) => boolean;
}

/** How long the token endpoint may take by default, body included. */
export const DEFAULT_TOKEN_TIMEOUT_MS = 30_000;
/** Largest token response read; a token answer is a few kilobytes. */
export const MAX_TOKEN_RESPONSE_BYTES = 1_048_576;

const OPTION_KEYS = [
  "tokenUrl",
  "clientId",
  "clientSecret",
  "clientAuth",
  "bodyFormat",
  "scope",
  "extraParams",
  "headers",
  "fetch",
  "timeoutMs",
] as const satisfies readonly (keyof OAuth2RefreshOptions)[];
const HOOK_KEYS = [
  "defaultClientId",
  "defaultClientSecret",
  "providerData",
  "isPermanent",
] as const satisfies readonly (keyof ProviderHooks)[];
/** `setTimeout` fires at once beyond this. */
const MAX_TIMEOUT_MS = 2_147_483_647;
/** Headers the body format and the client authentication decide. */
const OWN_HEADERS = ["content-type", "content-length"];

/** Options after validation. */
interface Settings {
  tokenUrl: string;
  clientId: string | undefined;
  clientSecret: string | undefined;
  clientAuth: ClientAuth;
  bodyFormat: BodyFormat;
  scope: string | undefined;
  extraParams: Readonly<Record<string, string>>;
  headers: Readonly<Record<string, string>>;
  fetch: typeof globalThis.fetch | undefined;
  timeoutMs: number;
}

/**
 * A `RefreshFunc` doing the RFC 6749 §6 refresh grant at `tokenUrl`.
 *
 * A failure is a `RefreshError`: `permanent` for `invalid_grant`, `invalid_client` and
 * `unauthorized_client` (re-authenticate), transient for a 5xx, a 429 (`retryAfterMs` from its
 * `Retry-After`), a timeout, a network error or an answer that is not a usable token. No error
 * quotes a token or the client secret, even when the endpoint echoes them. Redirects are not
 * followed.
 *
 * @throws {TypeError} at once, for options of the wrong type or an unknown option
 * @example
 * const manager = new OAuthKeyManager(
 *   "acme",
 *   credentials,
 *   oauth2Refresh({ tokenUrl: "https://auth.example.com/oauth/token" }),
 * );
 */
export function oauth2Refresh(options: OAuth2RefreshOptions): RefreshFunc {
  return createRefresher(options);
}

/**
 * {@link oauth2Refresh} with a provider's differences; what the presets are built from.
 * @throws {TypeError} at once, for options or hooks of the wrong type, or an unknown key
 */
export function createRefresher(
  options: OAuth2RefreshOptions,
  hooks: ProviderHooks = {},
): RefreshFunc {
  const settings = validateOptions(options);
  const provider = validateHooks(hooks);
  return (cred, signal) => refresh(settings, provider, cred, signal);
}

async function refresh(
  settings: Settings,
  hooks: ProviderHooks,
  cred: Readonly<OAuthCredentialSet>,
  signal: AbortSignal | undefined,
): Promise<OAuthCredentialSet> {
  signal?.throwIfAborted();
  const client = clientOf(settings, hooks, cred);
  const secrets = [
    cred.refreshToken,
    cred.accessToken,
    cred.clientSecret,
    client.secret,
    ...Object.values(settings.headers),
    ...Object.values(settings.extraParams),
  ];
  const refreshToken = cred.refreshToken;
  if (typeof refreshToken !== "string" || refreshToken === "") {
    throw new RefreshError(cred.id, "the credential has no refresh token", { permanent: true });
  }
  if (settings.clientAuth === "basic" && client.id === undefined) {
    throw new RefreshError(
      cred.id,
      "clientAuth is basic but no client id was given by the options, the credential or the provider",
      { permanent: true },
    );
  }
  const { headers, body } = refreshRequest(settings, client, refreshToken);

  const controller = new AbortController();
  const stopFollowing = signal ? onAbort(signal, () => controller.abort(signal.reason)) : () => {};
  let timedOut = false;
  // Cleared in `finally`: it only runs while the caller awaits this refresh.
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException("token endpoint timed out", "TimeoutError"));
  }, settings.timeoutMs);
  const doFetch = settings.fetch ?? globalThis.fetch;
  // `expires_in` counts from when the server answered; counting from before the request makes
  // the expiry early rather than late, whatever the round trip took.
  const sentAt = Date.now();
  try {
    const response = await doFetch(settings.tokenUrl, {
      method: "POST",
      headers,
      body,
      // The client secret and refresh token go to this URL only, never where it points to.
      redirect: "manual",
      signal: controller.signal,
    });
    const text = await readCappedText(response, MAX_TOKEN_RESPONSE_BYTES, controller.signal);
    // An opaque redirect (browsers' fetch) has status 0: shown as a redirect all the same.
    const status = response.type === "opaqueredirect" ? 302 : response.status;
    return readTokenAnswer(
      { status, headers: response.headers, body: text },
      {
        cred: cred,
        secrets,
        hooks,
        maxBytes: MAX_TOKEN_RESPONSE_BYTES,
        now: sentAt,
      },
    );
  } catch (err) {
    if (err instanceof RefreshError) throw err;
    if (signal?.aborted && !timedOut) throw signal.reason;
    if (timedOut) {
      throw failure(
        { cred, secrets },
        `the token endpoint did not answer within ${settings.timeoutMs} ms`,
        { cause: err },
      );
    }
    throw failure({ cred, secrets }, "the token endpoint could not be reached", { cause: err });
  } finally {
    clearTimeout(timer);
    stopFollowing();
  }
}

/**
 * The client the refresh is sent for. The preset's public secret goes only with the preset's
 * public id: a credential issued to another client would be refused with it.
 */
function clientOf(
  settings: Settings,
  hooks: ProviderHooks,
  cred: Readonly<OAuthCredentialSet>,
): ClientCredentials {
  const id = settings.clientId ?? nonEmpty(cred.clientId) ?? hooks.defaultClientId;
  const secret =
    settings.clientSecret ??
    nonEmpty(cred.clientSecret) ??
    (id !== undefined && id === hooks.defaultClientId ? hooks.defaultClientSecret : undefined);
  return { id, secret };
}

function nonEmpty(value: string | undefined): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

// ---------------------------------------------------------------------------------------------
// Validation

function validateOptions(options: OAuth2RefreshOptions): Settings {
  const o = plainObject(options, "options") as Record<string, unknown>;
  rejectUnknownKeys(o, OPTION_KEYS, "", "option");
  const clientAuth = oneOf(o.clientAuth, "clientAuth", ["body", "basic"] as const) ?? "body";
  const headers = stringRecord(o.headers, "headers");
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (OWN_HEADERS.includes(lower) || (lower === "authorization" && clientAuth === "basic")) {
      throw new TypeError(
        `Expected \`headers\` without \`${name}\`: it is set by ${lower === "authorization" ? "clientAuth" : "bodyFormat"}`,
      );
    }
  }
  try {
    new Headers(headers);
  } catch {
    throw new TypeError("Expected `headers` to hold valid HTTP header names and values");
  }
  const extraParams = stringRecord(o.extraParams, "extraParams");
  for (const key of Object.keys(extraParams)) {
    if (RESERVED_PARAMS.includes(key)) {
      throw new TypeError(
        `Expected \`extraParams\` without \`${key}\`: the refresh grant sets it${key === "scope" ? " (use the `scope` option)" : ""}`,
      );
    }
  }
  const fetch = o.fetch;
  if (fetch !== undefined && typeof fetch !== "function") {
    throw new TypeError(`Expected \`fetch\` to be a function, got ${describe(fetch)}`);
  }
  return {
    tokenUrl: httpUrl(o.tokenUrl),
    clientId: optionalString(o.clientId, "clientId"),
    clientSecret: optionalString(o.clientSecret, "clientSecret"),
    clientAuth,
    bodyFormat: oneOf(o.bodyFormat, "bodyFormat", ["form", "json"] as const) ?? "form",
    scope: optionalString(o.scope, "scope"),
    extraParams,
    headers,
    fetch: fetch as typeof globalThis.fetch | undefined,
    timeoutMs: timeout(o.timeoutMs),
  };
}

function validateHooks(hooks: ProviderHooks): ProviderHooks {
  const h = plainObject(hooks, "hooks") as Record<string, unknown>;
  rejectUnknownKeys(h, HOOK_KEYS, "", "hook");
  const valid: ProviderHooks = {};
  const id = optionalString(h.defaultClientId, "defaultClientId");
  const secret = optionalString(h.defaultClientSecret, "defaultClientSecret");
  if (id !== undefined) valid.defaultClientId = id;
  if (secret !== undefined) valid.defaultClientSecret = secret;
  for (const name of ["providerData", "isPermanent"] as const) {
    const fn = h[name];
    if (fn !== undefined && typeof fn !== "function") {
      throw new TypeError(`Expected hook \`${name}\` to be a function, got ${describe(fn)}`);
    }
  }
  if (h.providerData !== undefined)
    valid.providerData = h.providerData as ProviderHooks["providerData"] & {};
  if (h.isPermanent !== undefined)
    valid.isPermanent = h.isPermanent as ProviderHooks["isPermanent"] & {};
  return valid;
}

function plainObject(value: unknown, name: string): object {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`Expected \`${name}\` to be an object, got ${describe(value)}`);
  }
  return value;
}

/**
 * Only `http:` and `https:`: the refresh token and client secret must not go to a `file:` or
 * `data:` URL a fetch implementation might accept. No user:password part either, since the URL
 * appears in error messages of some fetch implementations.
 */
function httpUrl(value: unknown): string {
  if (typeof value !== "string" || value === "") {
    throw new TypeError(`Expected \`tokenUrl\` to be an http(s) URL, got ${describe(value)}`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError("Expected `tokenUrl` to be an http(s) URL, got a string that is not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new TypeError(
      `Expected \`tokenUrl\` to be an http(s) URL, got a URL with protocol ${url.protocol}`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw new TypeError(
      "Expected `tokenUrl` without a user name or password: give them as clientId and clientSecret",
    );
  }
  return url.href;
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") {
    throw new TypeError(
      `Expected \`${name}\` to be a non-empty string when given, got ${describe(value)}`,
    );
  }
  return value;
}

function oneOf<T extends string>(
  value: unknown,
  name: string,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) {
    return value as T;
  }
  throw new TypeError(
    `Expected \`${name}\` to be ${allowed.map((a) => `"${a}"`).join(" or ")}, got ${describe(value)}`,
  );
}

function stringRecord(value: unknown, name: string): Readonly<Record<string, string>> {
  if (value === undefined) return {};
  const o = plainObject(value, name) as Record<string, unknown>;
  const copy: Record<string, string> = {};
  for (const [key, item] of Object.entries(o)) {
    if (typeof item !== "string") {
      throw new TypeError(`Expected \`${name}.${key}\` to be a string, got ${describe(item)}`);
    }
    copy[key] = item;
  }
  return Object.freeze(copy);
}

function timeout(value: unknown): number {
  if (value === undefined) return DEFAULT_TOKEN_TIMEOUT_MS;
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new TypeError(`Expected \`timeoutMs\` to be a number, got ${describe(value)}`);
  }
  if (!(value > 0 && value <= MAX_TIMEOUT_MS)) {
    throw new RangeError(
      `Expected \`timeoutMs\` to be a number of milliseconds in (0, ${MAX_TIMEOUT_MS}], got ${value}`,
    );
  }
  return value;
}

/**
 * The token endpoint's answer (RFC 6749 §5.1 and §5.2) turned into a refreshed credential or a
 * `RefreshError`. Anything that is not a usable token is refused before a byte of it is stored,
 * and no error quotes the body: an endpoint may echo the refresh token or client secret it was
 * sent, and it carries the new tokens.
 * @module
 */
import { parseRecord } from "../describe.js";
import { RefreshError, redactSecrets } from "../errors.js";
import { parseRetryAfter } from "../health/retry-after.js";
import { PERMANENT_OAUTH_ERRORS } from "../refresh/refresh-result.js";
import type { OAuthCredentialSet, ProviderData } from "../types.js";
import type { CappedText } from "./read-capped.js";

/** What a provider does differently when reading an answer. */
export interface AnswerHooks {
  providerData?:
    | ((body: Readonly<Record<string, unknown>>) => ProviderData | undefined)
    | undefined;
  isPermanent?:
    | ((error: {
        oauthError: string | undefined;
        status: number;
        description: string | undefined;
      }) => boolean)
    | undefined;
}

/** The answer as read off the wire. */
export interface TokenAnswer {
  status: number;
  headers: Headers;
  body: CappedText;
}

/** What the answer is read against. */
export interface AnswerContext {
  cred: Readonly<OAuthCredentialSet>;
  /** Every secret known before the answer came: the answer's own tokens are added to them. */
  secrets: readonly (string | undefined)[];
  hooks: AnswerHooks;
  maxBytes: number;
  /** Epoch milliseconds, for `expires_in` and `Retry-After`. */
  now: number;
}

/** A refresh failure; `retryAfterMs` when the endpoint said how long to wait. */
export type RefreshFailure = RefreshError & { readonly retryAfterMs?: number };

/** Longest part of an endpoint's own text (`error_description`) put in a message. */
const MAX_QUOTED = 200;
/** Seconds, as a JSON number sent as a string: `"3600"`, `"3599.5"`. */
const NUMERIC_TEXT = /^\s*\d+(?:\.\d+)?\s*$/;

/**
 * The credential after a successful answer, or throws the `RefreshError` the answer amounts to.
 * @throws RefreshError
 */
export function readTokenAnswer(answer: TokenAnswer, ctx: AnswerContext): OAuthCredentialSet {
  const { status } = answer;
  if ("tooLarge" in answer.body) {
    throw failure(
      ctx,
      `the token endpoint answered ${status} with a body over ${ctx.maxBytes} bytes, not read further`,
      { status },
    );
  }
  const body = parseRecord(answer.body.text);
  const secrets = body === undefined ? ctx.secrets : [...ctx.secrets, ...tokensIn(body)];
  const scoped: AnswerContext = { ...ctx, secrets };
  if (body !== undefined && body.error !== undefined && body.error !== null) {
    throw oauthFailure(scoped, answer, body);
  }
  if (status >= 300 && status < 400) {
    throw failure(
      scoped,
      `the token endpoint answered with a redirect (${status}); it is not followed, so the client credentials and the refresh token go nowhere else`,
      { status },
    );
  }
  if (status < 200 || status >= 300) {
    const what = body === undefined ? "a body that is not JSON" : "no OAuth error code";
    throw failure(scoped, `the token endpoint answered ${status} with ${what}`, {
      status,
      retryAfterMs: retryAfter(answer, ctx.now),
    });
  }
  if (body === undefined) {
    const type = answer.headers.get("content-type");
    const shown = type ? ` (content-type ${quote(type)})` : "";
    throw failure(
      scoped,
      `the token endpoint answered ${status} with a body that is not a JSON object${shown}`,
      {
        status,
      },
    );
  }
  return refreshedCredential(scoped, status, body);
}

function refreshedCredential(
  ctx: AnswerContext,
  status: number,
  body: Record<string, unknown>,
): OAuthCredentialSet {
  const accessToken = body.access_token;
  if (typeof accessToken !== "string" || accessToken === "") {
    throw failure(ctx, `the token endpoint answered ${status} without an access_token`, {
      status,
    });
  }
  const refreshToken = body.refresh_token;
  if (refreshToken !== undefined && refreshToken !== null && typeof refreshToken !== "string") {
    throw failure(ctx, `the token endpoint answered a refresh_token that is not a string`, {
      status,
    });
  }
  const expiresAt = expiryOf(ctx, status, body);
  const next: OAuthCredentialSet = { ...ctx.cred, accessToken };
  // An answer without one keeps the old refresh token (RFC 6749 §6); Google never rotates.
  if (typeof refreshToken === "string" && refreshToken !== "") next.refreshToken = refreshToken;
  if (expiresAt === undefined) delete next.expiresAt;
  else next.expiresAt = expiresAt;
  // Without `scope` the grant kept the scopes it had (RFC 6749 §5.1).
  if (typeof body.scope === "string") next.scopes = body.scope.split(/\s+/).filter(Boolean);
  else if (ctx.cred.scopes) next.scopes = [...ctx.cred.scopes];
  const facts = providerFacts(ctx, body);
  if (facts !== undefined) next.providerData = { ...ctx.cred.providerData, ...facts };
  return next;
}

/**
 * `expires_in` (seconds, RFC 6749 §5.1), else Google's `expiry_date` (epoch milliseconds, as
 * Google's client libraries write it); neither: the token does not say when it expires.
 */
function expiryOf(
  ctx: AnswerContext,
  status: number,
  body: Record<string, unknown>,
): Date | undefined {
  if (body.expires_in !== undefined && body.expires_in !== null) {
    const seconds = positiveNumber(body.expires_in);
    if (seconds === undefined) {
      throw failure(
        ctx,
        `the token endpoint answered an expires_in of ${shown(body.expires_in)}, not a positive number of seconds`,
        { status },
      );
    }
    return validDate(ctx, status, ctx.now + seconds * 1000, "expires_in");
  }
  if (body.expiry_date !== undefined && body.expiry_date !== null) {
    const at = positiveNumber(body.expiry_date);
    if (at === undefined) {
      throw failure(
        ctx,
        `the token endpoint answered an expiry_date of ${shown(body.expiry_date)}, not epoch milliseconds`,
        { status },
      );
    }
    return validDate(ctx, status, at, "expiry_date");
  }
  return undefined;
}

function validDate(ctx: AnswerContext, status: number, ms: number, field: string): Date {
  const date = new Date(Math.round(ms));
  if (Number.isNaN(date.getTime())) {
    throw failure(ctx, `the token endpoint answered an ${field} too large to be a date`, {
      status,
    });
  }
  return date;
}

function positiveNumber(value: unknown): number | undefined {
  const n = typeof value === "string" && NUMERIC_TEXT.test(value) ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** A number as it is; anything else by its kind, since a string there could be anything. */
function shown(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return "a string that is not a number";
  return Array.isArray(value) ? "an array" : `a ${typeof value}`;
}

function providerFacts(
  ctx: AnswerContext,
  body: Record<string, unknown>,
): ProviderData | undefined {
  const read = ctx.hooks.providerData;
  if (read === undefined) return undefined;
  let facts: ProviderData | undefined;
  try {
    facts = read(body);
  } catch {
    // The tokens are good, and after a rotation they are the only live ones: losing them over
    // a provider fact would lose the grant. The facts of the last answer stay.
    return undefined;
  }
  if (typeof facts !== "object" || facts === null) return undefined;
  const kept: ProviderData = {};
  for (const key of ["resourceUrl", "accountId", "projectId"] as const) {
    const value = facts[key];
    if (typeof value === "string" && value !== "") kept[key] = value;
  }
  return Object.keys(kept).length > 0 ? kept : undefined;
}

/** An RFC 6749 §5.2 error answer, also when it came with a 200. */
function oauthFailure(
  ctx: AnswerContext,
  answer: TokenAnswer,
  body: Record<string, unknown>,
): RefreshFailure {
  const { status } = answer;
  const oauthError =
    typeof body.error === "string" && body.error !== ""
      ? quote(redact(ctx, body.error))
      : undefined;
  const description =
    typeof body.error_description === "string"
      ? quote(redact(ctx, body.error_description))
      : undefined;
  const reason =
    oauthError === undefined
      ? `the token endpoint answered ${status} with an error that is not an OAuth error code`
      : `the token endpoint answered ${status} with ${oauthError}${description ? `: ${description}` : ""}`;
  // A server fault or a rate limit says nothing about the grant, whatever the body names.
  const mayBePermanent = status < 500 && status !== 429;
  const permanent =
    mayBePermanent &&
    ((oauthError !== undefined && PERMANENT_OAUTH_ERRORS.has(oauthError)) ||
      askIsPermanent(ctx, { oauthError, status, description }));
  return failure(ctx, reason, {
    status,
    oauthError,
    permanent,
    retryAfterMs: retryAfter(answer, ctx.now),
  });
}

/** A provider's hook that throws cannot turn a refusal into something worse than transient. */
function askIsPermanent(
  ctx: AnswerContext,
  error: { oauthError: string | undefined; status: number; description: string | undefined },
): boolean {
  try {
    return ctx.hooks.isPermanent?.(error) === true;
  } catch {
    return false;
  }
}

function retryAfter(answer: TokenAnswer, now: number): number | undefined {
  return parseRetryAfter(answer.headers.get("retry-after"), now);
}

/** A `RefreshError` whose message and cause hold none of the secrets. */
export function failure(
  ctx: Pick<AnswerContext, "cred" | "secrets">,
  reason: string,
  details: {
    status?: number | undefined;
    oauthError?: string | undefined;
    permanent?: boolean;
    retryAfterMs?: number | undefined;
    cause?: unknown;
  } = {},
): RefreshFailure {
  const options: ConstructorParameters<typeof RefreshError>[2] = {
    permanent: details.permanent ?? false,
  };
  if (details.status !== undefined) options.status = details.status;
  if (details.oauthError !== undefined) options.oauthError = details.oauthError;
  if (details.cause !== undefined) options.cause = redactSecrets(details.cause, ctx.secrets);
  const error = new RefreshError(ctx.cred.id, redact(ctx, reason), options);
  if (details.retryAfterMs !== undefined) {
    Object.defineProperty(error, "retryAfterMs", {
      value: details.retryAfterMs,
      enumerable: true,
    });
  }
  return error;
}

function redact(ctx: Pick<AnswerContext, "secrets">, text: string): string {
  return redactSecrets(text, ctx.secrets);
}

/** An endpoint's own text, on one line and short: it goes into log lines. */
function quote(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return line.length > MAX_QUOTED ? `${line.slice(0, MAX_QUOTED)}…` : line;
}

/** Every string an answer holds under a token's name, at the top level. */
function tokensIn(body: Record<string, unknown>): string[] {
  const found: string[] = [];
  for (const key of ["access_token", "refresh_token", "id_token"]) {
    const value = body[key];
    if (typeof value === "string") found.push(value);
  }
  return found;
}

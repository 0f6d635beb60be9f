/**
 * One proxied request: the body buffered, the pool's failover around each attempt until the
 * upstream's headers arrive, then the answer streamed to the client as it comes. A failed attempt
 * (401, 429, 5xx, network, timeout) is replayed on the next credential only while nothing has
 * been sent to the client; once the headers are out, never.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import {
  CredentialsUnavailableError,
  FailoverExhaustedError,
  NoCredentialsError,
} from "../errors.js";
import type { PoolCallOptions } from "../manager/failover.js";
import type { OAuthKeyManager } from "../manager/oauth-key-manager.js";
import type { OAuthCredentialSet, OperationResult } from "../types.js";
import { BodyTooLargeError, hasBody, readBody } from "./body.js";
import type { ClientConnection } from "./connection.js";
import { clientResponseHeaders, upstreamRequestHeaders } from "./headers.js";
import { requestModel } from "./model-scope.js";
import { relayBody, writeHead } from "./relay.js";
import { type RequestOutcome, sendError } from "./respond.js";
import type { ProviderRoute } from "./route.js";
import type { GatewaySettings } from "./settings.js";

/** What a proxied request needs. */
export interface ForwardContext {
  manager: OAuthKeyManager;
  route: ProviderRoute;
  settings: GatewaySettings;
}

/**
 * An upstream answer of 400 or more, thrown inside the pool so that its classifier decides (a 401
 * refreshes and retries, a 429 cools down for its Retry-After, a 5xx fails over, any other 4xx
 * goes back to the client). Carries `status` and `headers` as the classifier reads them.
 */
class UpstreamStatusError extends Error {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;

  constructor(response: Dispatcher.ResponseData) {
    super(`upstream answered ${response.statusCode}`);
    this.name = "UpstreamStatusError";
    this.status = response.statusCode;
    this.headers = response.headers;
  }
}

/** A path segment that would climb out of the upstream's prefix (`..`, also percent-encoded). */
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i;

/**
 * Whether `path` holds a `.` or a `%`, without which it has no dot segment: a search for two
 * characters, so that the expression runs only on the few paths that have one.
 */
function mayHaveDotSegment(path: string): boolean {
  return path.includes(".") || path.includes("%");
}

/**
 * Proxies `req` (whose path after `/<provider>` is `rest`, query included) and answers `res`.
 * @param connection the client's connection: its upstream requests go through it, and its abort
 *   (the client going away) stops them without penalising the credential
 */
export async function forward(
  req: IncomingMessage,
  res: ServerResponse,
  rest: string,
  ctx: ForwardContext,
  connection: ClientConnection,
): Promise<RequestOutcome> {
  const aborted = connection.signal;
  const { manager, route, settings } = ctx;
  const query = rest.indexOf("?");
  const pathOnly = query === -1 ? rest : rest.slice(0, query);
  if (mayHaveDotSegment(pathOnly) && DOT_SEGMENT.test(pathOnly)) {
    return sendError(res, 400, "invalid_request", "the path may not contain . or .. segments");
  }
  let body: Buffer | undefined;
  if (hasBody(req)) {
    try {
      body = await readBody(req, settings.maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        // The rest of the body is not read: close the connection rather than drain it.
        res.setHeader("connection", "close");
        return sendError(res, 413, "request_too_large", err.message);
      }
      // The client went away while sending.
      return { status: 499 };
    }
  }
  const method = req.method ?? "GET";
  const scope = requestModel(pathOnly, body);
  const upstreamPath = rest.startsWith("/") || rest === "" ? rest : `/${rest}`;

  // The answer of the latest failed attempt, body unread: what the client gets if none succeeds.
  let last: Dispatcher.ResponseData | undefined;
  let lastId: string | undefined;
  const keep = (response: Dispatcher.ResponseData | undefined, id?: string) => {
    if (last !== undefined) discard(last);
    last = response;
    lastId = id;
  };

  const attempt = (
    cred: Readonly<OAuthCredentialSet>,
  ): Promise<OperationResult<Dispatcher.ResponseData>> => {
    const target = route.target(cred);
    // Anew for each attempt: presenting a credential writes into them.
    const headers = upstreamRequestHeaders(req.headers);
    route.present(cred, headers);
    const sent = connection.upstream.request({
      origin: target.origin,
      path: `${target.basePath}${upstreamPath}` || "/",
      method: method as Dispatcher.HttpMethod,
      headers,
      body: body ?? null,
      headersTimeout: settings.upstreamTimeoutMs,
      bodyTimeout: settings.streamIdleTimeoutMs,
    });
    return sent.then((response) => {
      if (response.statusCode < 400) return { result: response };
      keep(response, cred.id);
      throw new UpstreamStatusError(response);
    });
  };

  // The answer the client gets, and the credential it came through.
  let response: Dispatcher.ResponseData;
  let credentialId: string | undefined;
  try {
    const options: PoolCallOptions =
      scope === undefined ? connection.poolOptions : { ...connection.poolOptions, scope };
    const served = await manager.executeWithFailover(attempt, options);
    keep(undefined);
    response = served.result;
    credentialId = served.credentialId;
  } catch (err) {
    if (aborted.aborted) {
      keep(undefined);
      return { status: 499 };
    }
    // A 4xx the classifier handed back, or failover that ran out after an upstream answered:
    // the client gets that answer as the upstream gave it.
    if (last === undefined || !(err instanceof UpstreamStatusError || isExhausted(err))) {
      keep(undefined);
      return failureAnswer(res, err);
    }
    response = last;
    credentialId = lastId;
    last = undefined;
  }
  // Streamed here rather than in a function of its own: an async function more, awaited, is two
  // more promises and turns of the microtask queue per request.
  const outcome: RequestOutcome = { status: response.statusCode };
  if (credentialId !== undefined) outcome.credentialId = credentialId;
  writeHead(res, response.statusCode, clientResponseHeaders(response.headers));
  // Once begun, a broken answer is not replayed: the client sees it cut.
  const whole = await relayBody(response.body, res);
  if (!whole && aborted.aborted) outcome.status = 499;
  return outcome;
}

/** The answer when no upstream answer can be relayed. */
function failureAnswer(res: ServerResponse, err: unknown): RequestOutcome {
  if (err instanceof CredentialsUnavailableError) {
    setRetryAfter(res, err.retryAfterMs);
    return sendError(res, 503, "credentials_unavailable", err.message);
  }
  if (err instanceof NoCredentialsError) {
    return sendError(res, 503, "no_credentials", err.message);
  }
  if (isExhausted(err)) {
    setRetryAfter(res, err.retryAfterMs);
    const timedOut = isTimeout(err.errors.at(-1));
    return sendError(
      res,
      timedOut ? 504 : 502,
      timedOut ? "upstream_timeout" : "upstream_unreachable",
      timedOut
        ? "the upstream did not answer in time"
        : `no upstream answer after ${err.errors.length} attempt(s)`,
    );
  }
  return sendError(res, 502, "gateway_error", "the request could not be forwarded");
}

/** Retry-After in whole seconds (RFC 9110 §10.2.3), at least 1 so a client does not spin. */
function setRetryAfter(res: ServerResponse, ms: number | undefined): void {
  if (ms !== undefined) res.setHeader("retry-after", String(Math.max(1, Math.ceil(ms / 1000))));
}

function isExhausted(err: unknown): err is FailoverExhaustedError {
  return err instanceof FailoverExhaustedError;
}

function isTimeout(err: unknown): boolean {
  for (let e = err, depth = 0; typeof e === "object" && e !== null && depth < 5; depth++) {
    const { name, code } = e as { name?: unknown; code?: unknown };
    if (name === "TimeoutError" || (typeof code === "string" && /TIMEOUT/.test(code))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Lets go of an answer nobody will read, so its connection goes back to the pool. */
function discard(response: Dispatcher.ResponseData): void {
  response.body.dump().catch(() => {});
}

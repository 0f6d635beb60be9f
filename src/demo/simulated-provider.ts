/**
 * A simulated AI provider on 127.0.0.1, for the demo and for tests. Its OAuth token endpoint
 * issues short-lived access tokens and rotates the refresh token on every grant, refusing a
 * rotated-out one as `invalid_grant` the way rotating providers do. Its chat API checks the bearer
 * token, now and then answers 429 (with `Retry-After`) or 503, and streams Server-Sent Events when
 * the request asks for `stream: true`. Tokens are random and never leave it except in answers.
 * @module
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";

/** Options of {@link startSimulatedProvider}. */
export interface SimulatedProviderOptions {
  /** How long an access token from the token endpoint lives. @default 20_000 */
  tokenLifetimeMs?: number;
  /**
   * The chance that an API request is answered 429 or 503 (half each), while no other account
   * is in trouble. @default 0.08
   */
  faultRate?: number;
  /**
   * How long after one account's 429 or 503 no other account gets one: one account in trouble
   * at a time, as a provider's per-account limits usually go, so a pool of several always has one
   * to fail over to. @default 3_000
   */
  faultSpacingMs?: number;
  /** The `Retry-After` of a 429, in seconds. @default 2 */
  retryAfterSeconds?: number;
  /** Numbers in [0, 1): answer latency, stream pacing and faults. @default Math.random */
  random?: () => number;
  /** Epoch milliseconds: token expiry and fault spacing. @default Date.now */
  now?: () => number;
}

/** What the simulated provider has done so far. */
export interface SimulatedCounts {
  /** Refresh grants answered with new tokens. */
  tokenGrants: number;
  /** Refresh tokens refused because a grant had already rotated them out. */
  reusedRefreshTokens: number;
  /** API requests, whatever their answer. */
  apiRequests: number;
  /** API requests refused for a missing, unknown or expired access token. */
  unauthorized: number;
  /** API requests answered 429. */
  rateLimited: number;
  /** API requests answered 503. */
  unavailable: number;
  /** API requests answered with an event stream. */
  streams: number;
}

/** An account's first tokens, as a login would have left them. */
export interface InitialTokens {
  accessToken: string;
  refreshToken: string;
  expiresAt: Date;
}

/** The running simulated provider. */
export interface SimulatedProvider {
  /** `http://127.0.0.1:PORT`: the API's base URL, for a gateway's `upstream`. */
  readonly origin: string;
  /** The token endpoint: `POST`, `grant_type=refresh_token` in a form body. */
  readonly tokenUrl: string;
  /** A live view of what it has done. */
  readonly counts: Readonly<SimulatedCounts>;
  /** Signs an account up: its first tokens, the access token valid for `expiresInMs`. */
  signUp(account: string, expiresInMs: number): InitialTokens;
  /** Stops answering: open connections, streams included, are cut. */
  close(): Promise<void>;
}

/** The path of the token endpoint. */
export const TOKEN_PATH = "/oauth/token";
/** The chat API's path. */
export const CHAT_PATH = "/v1/chat/completions";

/** The `error.type` of the API's error answers, as a client sees them relayed. */
export const SIMULATED_ERROR_TYPES = {
  unauthorized: "invalid_token",
  rateLimited: "rate_limited",
  unavailable: "overloaded",
} as const;

/** Spent refresh tokens remembered to recognise a reuse; older ones count as unknown. */
const MAX_SPENT_REFRESH_TOKENS = 10_000;
/** Request bodies are small JSON or forms; anything larger is refused. */
const MAX_BODY_BYTES = 64 * 1024;
const STREAM_CHUNKS = ["Pooled ", "credentials ", "keep ", "the ", "answers ", "coming."];

/**
 * Starts the simulated provider on 127.0.0.1, on a free port.
 * @example
 * const sim = await startSimulatedProvider({ tokenLifetimeMs: 20_000 });
 * const first = sim.signUp("account-a", 5_000);
 */
export async function startSimulatedProvider(
  options: SimulatedProviderOptions = {},
): Promise<SimulatedProvider> {
  const lifetimeMs = options.tokenLifetimeMs ?? 20_000;
  const faultRate = options.faultRate ?? 0.08;
  const faultSpacingMs = options.faultSpacingMs ?? 3_000;
  const retryAfter = options.retryAfterSeconds ?? 2;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;

  const counts: SimulatedCounts = {
    tokenGrants: 0,
    reusedRefreshTokens: 0,
    apiRequests: 0,
    unauthorized: 0,
    rateLimited: 0,
    unavailable: 0,
    streams: 0,
  };
  const accessTokens = new Map<string, { account: string; expiresAt: number }>();
  /** The one live refresh token of each account, by token. */
  const liveRefreshTokens = new Map<string, string>();
  const spentRefreshTokens = new Set<string>();
  let lastFault: { account: string; at: number } | undefined;
  const closing = new AbortController();

  const issue = (account: string, expiresInMs: number): InitialTokens => {
    const at = now();
    // Expired tokens are of no more use, so the map stays as large as the live ones.
    for (const [token, entry] of accessTokens)
      if (entry.expiresAt <= at) accessTokens.delete(token);
    const accessToken = `sim-at-${randomBytes(18).toString("base64url")}`;
    const refreshToken = `sim-rt-${randomBytes(18).toString("base64url")}`;
    accessTokens.set(accessToken, { account, expiresAt: at + expiresInMs });
    liveRefreshTokens.set(refreshToken, account);
    return { accessToken, refreshToken, expiresAt: new Date(at + expiresInMs) };
  };

  const grant = (form: URLSearchParams, res: ServerResponse): void => {
    const presented = form.get("refresh_token") ?? "";
    if (form.get("grant_type") !== "refresh_token") {
      json(res, 400, { error: "unsupported_grant_type" });
      return;
    }
    const account = liveRefreshTokens.get(presented);
    if (account === undefined) {
      const reused = spentRefreshTokens.has(presented);
      if (reused) counts.reusedRefreshTokens++;
      json(res, 400, {
        error: "invalid_grant",
        error_description: reused ? "refresh token already used" : "unknown refresh token",
      });
      return;
    }
    liveRefreshTokens.delete(presented);
    spentRefreshTokens.add(presented);
    if (spentRefreshTokens.size > MAX_SPENT_REFRESH_TOKENS) {
      const oldest = spentRefreshTokens.values().next().value;
      if (oldest !== undefined) spentRefreshTokens.delete(oldest);
    }
    const tokens = issue(account, lifetimeMs);
    counts.tokenGrants++;
    json(res, 200, {
      access_token: tokens.accessToken,
      token_type: "Bearer",
      expires_in: lifetimeMs / 1000,
      refresh_token: tokens.refreshToken,
    });
  };

  /** A 429 or 503 for this account now, if it is the turn of one. */
  const fault = (account: string): 429 | 503 | undefined => {
    const at = now();
    if (lastFault !== undefined && at - lastFault.at < faultSpacingMs) return undefined;
    // Never the same account twice in a row: its backoff then stays at its first, short step.
    if (lastFault?.account === account) return undefined;
    if (random() >= faultRate) return undefined;
    lastFault = { account, at };
    return random() < 0.5 ? 429 : 503;
  };

  const chat = async (req: IncomingMessage, body: string, res: ServerResponse): Promise<void> => {
    counts.apiRequests++;
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1] ?? "";
    const token = accessTokens.get(bearer);
    if (token === undefined || token.expiresAt <= now()) {
      counts.unauthorized++;
      res.setHeader("www-authenticate", 'Bearer error="invalid_token"');
      return json(res, 401, {
        error: { type: SIMULATED_ERROR_TYPES.unauthorized, message: "expired or unknown" },
      });
    }
    let stream = false;
    try {
      stream = (JSON.parse(body) as { stream?: unknown }).stream === true;
    } catch {
      return json(res, 400, { error: { type: "invalid_request", message: "expected JSON" } });
    }
    await pause(10 + random() * 70);
    const trouble = fault(token.account);
    if (trouble === 429) {
      counts.rateLimited++;
      res.setHeader("retry-after", String(retryAfter));
      return json(res, 429, {
        error: { type: SIMULATED_ERROR_TYPES.rateLimited, message: "slow down" },
      });
    }
    if (trouble === 503) {
      counts.unavailable++;
      return json(res, 503, {
        error: { type: SIMULATED_ERROR_TYPES.unavailable, message: "try another time" },
      });
    }
    if (!stream) {
      return json(res, 200, {
        object: "chat.completion",
        choices: [{ index: 0, message: { role: "assistant", content: STREAM_CHUNKS.join("") } }],
        usage: { prompt_tokens: 12, completion_tokens: 6 },
      });
    }
    counts.streams++;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    for (const text of STREAM_CHUNKS) {
      const chunk = { object: "chat.completion.chunk", choices: [{ delta: { content: text } }] };
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      await pause(15 + random() * 35);
      if (res.destroyed) return;
    }
    res.end("data: [DONE]\n\n");
  };

  /** Waits, or stops waiting once the provider closes (the answer is cut then anyway). */
  const pause = (ms: number) =>
    delay(ms, undefined, { signal: closing.signal, ref: false }).catch(() => {});

  const server = createServer((req, res) => {
    readBody(req).then(
      (body) => {
        if (body === undefined) return json(res, 413, { error: "too_large" });
        const path = (req.url ?? "").split("?", 1)[0];
        if (req.method === "POST" && path === TOKEN_PATH) {
          return grant(new URLSearchParams(body), res);
        }
        if (req.method === "POST" && path === CHAT_PATH) {
          chat(req, body, res).catch(() => res.destroy());
          return;
        }
        json(res, 404, { error: "not_found" });
      },
      () => res.destroy(),
    );
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    origin,
    tokenUrl: `${origin}${TOKEN_PATH}`,
    counts,
    signUp: issue,
    close: () =>
      new Promise<void>((resolve) => {
        closing.abort();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The body as text, or `undefined` when it is larger than the provider reads. */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

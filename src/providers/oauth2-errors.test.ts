/**
 * Every answer oauth2Refresh refuses and every way it fails: the error's class, whether the grant
 * is dead, the OAuth error code and status, and that no secret survives in it, even when the
 * endpoint echoes what it was sent.
 */
import type { ServerResponse } from "node:http";
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { RefreshError } from "../errors.js";
import { OAuthKeyManager } from "../manager/oauth-key-manager.js";
import type { OAuthCredentialSet } from "../types.js";
import { createRefresher, MAX_TOKEN_RESPONSE_BYTES, type ProviderHooks } from "./oauth2.js";
import {
  json,
  type ReceivedRequest,
  startTokenServer,
  type TokenServer,
} from "./test-support/token-server.js";

const servers: TokenServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(...args: Parameters<typeof startTokenServer>): Promise<TokenServer> {
  const s = await startTokenServer(...args);
  servers.push(s);
  return s;
}

const REFRESH = "rt-canary-REFRESH-7f3a9c1e55d2";
// Characters that change under form, percent and JSON encoding.
const SECRET = 'cs-canary-SECRET+/=& "9b1d';
const OLD_ACCESS = "at-canary-OLD-4c2e8a9f01b3";
const NEW_ACCESS = "at-canary-NEW-d81b6e0f27c4";
const NEW_REFRESH = "rt-canary-NEW-a0c4d5e6f7a8";
const CANARIES = [REFRESH, SECRET, OLD_ACCESS, NEW_ACCESS, NEW_REFRESH];

/** Each canary as it may travel: as is, percent- or form-encoded, JSON-escaped, in a Basic header. */
function leakedForms(): string[] {
  return CANARIES.flatMap((c) => [
    c,
    encodeURIComponent(c),
    new URLSearchParams({ v: c }).toString().slice(2),
    JSON.stringify(c).slice(1, -1),
    Buffer.from(`app:${new URLSearchParams({ v: c }).toString().slice(2)}`).toString("base64"),
  ]);
}

function expectNoSecret(text: string): void {
  for (const form of leakedForms()) expect(text).not.toContain(form);
}

function credential(): OAuthCredentialSet {
  return {
    id: "c1",
    accessToken: OLD_ACCESS,
    refreshToken: REFRESH,
    clientId: "app",
    clientSecret: SECRET,
    expiresAt: new Date(Date.now() + 3_600_000),
  };
}

/**
 * Everything the endpoint was sent, quoted back the ways servers do it. (A token it never sent
 * us cannot be told from prose; the tokens of its own answer are covered below.)
 */
function echo(req: ReceivedRequest): string {
  return `bad request ${req.body} auth=${req.headers.authorization ?? ""} token ${REFRESH} secret ${SECRET}`;
}

interface Case {
  name: string;
  answer: (req: ReceivedRequest, res: ServerResponse) => void;
  permanent: boolean;
  oauthError?: string;
  status?: number;
  retryAfterMs?: number;
  message: RegExp;
  basic?: boolean;
  hooks?: ProviderHooks;
}

const oauthError =
  (status: number, error: string, headers = {}) =>
  (req: ReceivedRequest, res: ServerResponse) =>
    json(res, status, { error, error_description: echo(req) }, headers);

const cases: Case[] = [
  {
    name: "invalid_grant (400), echoing the form body",
    answer: oauthError(400, "invalid_grant"),
    permanent: true,
    oauthError: "invalid_grant",
    status: 400,
    message: /answered 400 with invalid_grant: bad request/,
  },
  {
    name: "invalid_client (401), echoing the Basic header",
    answer: oauthError(401, "invalid_client"),
    basic: true,
    permanent: true,
    oauthError: "invalid_client",
    status: 401,
    message: /answered 401 with invalid_client/,
  },
  {
    name: "unauthorized_client (400)",
    answer: oauthError(400, "unauthorized_client"),
    permanent: true,
    oauthError: "unauthorized_client",
    status: 400,
    message: /unauthorized_client/,
  },
  {
    name: "an error in a 200, next to a new token",
    answer: (req, res) =>
      json(res, 200, {
        error: "invalid_grant",
        error_description: `${echo(req)} issued ${NEW_ACCESS} ${NEW_REFRESH}`,
        access_token: NEW_ACCESS,
        refresh_token: NEW_REFRESH,
      }),
    permanent: true,
    oauthError: "invalid_grant",
    status: 200,
    message: /answered 200 with invalid_grant/,
  },
  {
    name: "invalid_request (400), transient by default",
    answer: oauthError(400, "invalid_request"),
    permanent: false,
    oauthError: "invalid_request",
    status: 400,
    message: /invalid_request/,
  },
  {
    name: "invalid_request (400) that the provider's hook calls dead",
    answer: oauthError(400, "invalid_request"),
    hooks: { isPermanent: (e) => e.oauthError === "invalid_request" && e.status === 400 },
    permanent: true,
    oauthError: "invalid_request",
    status: 400,
    message: /invalid_request/,
  },
  {
    name: "a hook that throws",
    answer: oauthError(400, "invalid_request"),
    hooks: {
      isPermanent: () => {
        throw new Error(`hook saw ${REFRESH}`);
      },
    },
    permanent: false,
    oauthError: "invalid_request",
    status: 400,
    message: /invalid_request/,
  },
  {
    name: "invalid_grant in a 500 (a server fault)",
    answer: oauthError(500, "invalid_grant"),
    permanent: false,
    oauthError: "invalid_grant",
    status: 500,
    message: /answered 500 with invalid_grant/,
  },
  {
    name: "an error that is not a code",
    answer: (_req, res) => json(res, 400, { error: { message: REFRESH, code: 400 } }),
    permanent: false,
    status: 400,
    message: /not an OAuth error code/,
  },
  {
    name: "a 429 with an OAuth error and a Retry-After date",
    answer: oauthError(429, "slow_down", {
      "retry-after": new Date(Date.now() + 3_600_000).toUTCString(),
    }),
    permanent: false,
    oauthError: "slow_down",
    status: 429,
    retryAfterMs: expect.any(Number) as unknown as number,
    message: /answered 429 with slow_down/,
  },
  {
    name: "an empty error code in a 200",
    answer: (_req, res) => json(res, 200, { error: "", access_token: NEW_ACCESS }),
    permanent: false,
    status: 200,
    message: /answered 200 with an error that is not an OAuth error code/,
  },
  {
    name: "a 429 without a body, with Retry-After in seconds",
    answer: (_req, res) => {
      res.writeHead(429, { "retry-after": "120" });
      res.end();
    },
    permanent: false,
    status: 429,
    retryAfterMs: 120_000,
    message: /answered 429 with a body that is not JSON/,
  },
  {
    name: "a 503 temporarily_unavailable",
    answer: oauthError(503, "temporarily_unavailable"),
    permanent: false,
    oauthError: "temporarily_unavailable",
    status: 503,
    message: /temporarily_unavailable/,
  },
  {
    name: "a 502 HTML page quoting the request",
    answer: (req, res) => {
      res.writeHead(502, { "content-type": "text/html" });
      res.end(`<h1>Bad gateway</h1>${echo(req)}`);
    },
    permanent: false,
    status: 502,
    message: /answered 502 with a body that is not JSON/,
  },
  {
    name: "a 401 without an error code",
    answer: (_req, res) => json(res, 401, { message: "no" }),
    permanent: false,
    status: 401,
    message: /answered 401 with no OAuth error code/,
  },
  {
    name: "a 200 without access_token, carrying a new refresh token",
    answer: (_req, res) => json(res, 200, { refresh_token: NEW_REFRESH, expires_in: 3600 }),
    permanent: false,
    status: 200,
    message: /without an access_token/,
  },
  {
    name: "a 200 with an empty access_token",
    answer: (_req, res) => json(res, 200, { access_token: "" }),
    permanent: false,
    status: 200,
    message: /without an access_token/,
  },
  ...([0, -60, "soon", "NaN", true, "-5"] as const).map(
    (value): Case => ({
      name: `expires_in of ${JSON.stringify(value)}`,
      answer: (_req, res) => json(res, 200, { access_token: NEW_ACCESS, expires_in: value }),
      permanent: false,
      status: 200,
      message: /expires_in of .*not a positive number of seconds/,
    }),
  ),
  {
    name: "an expiry_date that is not a number",
    answer: (_req, res) => json(res, 200, { access_token: NEW_ACCESS, expiry_date: "tomorrow" }),
    permanent: false,
    status: 200,
    message: /expiry_date of a string that is not a number/,
  },
  {
    name: "an expires_in too large for a date",
    answer: (_req, res) => json(res, 200, { access_token: NEW_ACCESS, expires_in: 1e300 }),
    permanent: false,
    status: 200,
    message: /too large to be a date/,
  },
  {
    name: "a refresh_token that is not a string",
    answer: (_req, res) => json(res, 200, { access_token: NEW_ACCESS, refresh_token: 42 }),
    permanent: false,
    status: 200,
    message: /refresh_token that is not a string/,
  },
  {
    name: "a 200 form-encoded answer holding the tokens",
    answer: (_req, res) => {
      res.writeHead(200, { "content-type": "application/x-www-form-urlencoded" });
      res.end(
        new URLSearchParams({ access_token: NEW_ACCESS, refresh_token: NEW_REFRESH }).toString(),
      );
    },
    permanent: false,
    status: 200,
    message:
      /answered 200 with a body that is not a JSON object \(content-type application\/x-www-form-urlencoded\)/,
  },
  {
    name: "a 200 JSON array",
    answer: (_req, res) => json(res, 200, [NEW_ACCESS]),
    permanent: false,
    status: 200,
    message: /not a JSON object/,
  },
  {
    name: "a 200 declaring a body over the cap",
    answer: (_req, res) => {
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": MAX_TOKEN_RESPONSE_BYTES + 1,
      });
      res.write(`{"access_token":"${NEW_ACCESS}",`);
    },
    permanent: false,
    status: 200,
    message: /body over 1048576 bytes, not read further/,
  },
  {
    name: "a redirect",
    answer: (_req, res) => {
      res.writeHead(302, { location: "http://127.0.0.1:9/steal" });
      res.end();
    },
    permanent: false,
    status: 302,
    message: /redirect \(302\)/,
  },
  {
    name: "a connection reset",
    answer: (_req, res) => res.socket?.destroy(),
    permanent: false,
    message: /could not be reached/,
  },
];

async function refreshFailure(c: Case, url: string): Promise<RefreshError> {
  const refresh = createRefresher(
    { tokenUrl: url, ...(c.basic ? { clientAuth: "basic" as const } : {}) },
    c.hooks,
  );
  const err = await refresh(credential(), new AbortController().signal).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RefreshError);
  return err as RefreshError;
}

describe("oauth2Refresh: refused answers and failures", () => {
  it.each(cases)("$name", async (c) => {
    const s = await server(c.answer);
    const err = await refreshFailure(c, s.url);
    expect(err.message).toMatch(c.message);
    expect(err.credentialId).toBe("c1");
    expect(err.permanent).toBe(c.permanent);
    expect(err.oauthError).toBe(c.oauthError);
    expect(err.status).toBe(c.status);
    expect((err as { retryAfterMs?: number }).retryAfterMs).toEqual(c.retryAfterMs);
    expectNoSecret(inspect(err, { depth: Number.POSITIVE_INFINITY }));
    expectNoSecret(JSON.stringify(err));
    expectNoSecret(String(err.stack));

    // The same failure through a manager: its event and what its caller gets.
    const events: unknown[] = [];
    const manager = new OAuthKeyManager(
      "acme",
      [credential()],
      createRefresher(
        { tokenUrl: s.url, ...(c.basic ? { clientAuth: "basic" as const } : {}) },
        c.hooks,
      ),
    );
    manager.on("refresh_failure", (event) => events.push(event));
    const thrown = await manager.refreshCredential("c1", { force: true }).catch((e: unknown) => e);
    expect(thrown).toMatchObject({
      permanent: c.permanent,
      oauthError: c.oauthError,
      status: c.status,
    });
    expect(events).toHaveLength(1);
    // Nothing of a refused answer is taken in.
    expect(manager.getCredentials()[0]).toMatchObject({
      accessToken: OLD_ACCESS,
      refreshToken: REFRESH,
    });
    await manager.close();
    expectNoSecret(JSON.stringify(events));
    expectNoSecret(inspect(events, { depth: Number.POSITIVE_INFINITY }));
    expectNoSecret(inspect(thrown, { depth: Number.POSITIVE_INFINITY }));
  });

  it("a credential without a refresh token fails as dead, sending nothing", async () => {
    const s = await server((_req, res) => json(res, 200, {}));
    const err = await createRefresher({ tokenUrl: s.url })(
      { id: "c1", accessToken: "a" },
      new AbortController().signal,
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "RefreshError", permanent: true });
    expect(s.received).toHaveLength(0);
  });

  it("Basic without any client id fails as dead, sending nothing", async () => {
    const s = await server((_req, res) => json(res, 200, {}));
    const err = await createRefresher({ tokenUrl: s.url, clientAuth: "basic" })(
      { id: "c1", accessToken: "a", refreshToken: REFRESH },
      new AbortController().signal,
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ permanent: true, message: expect.stringMatching(/no client id/) });
    expect(s.received).toHaveLength(0);
  });
});

describe("oauth2Refresh: endpoints that never finish", () => {
  it("gives up on an endpoint that does not answer, at its timeout", async () => {
    const s = await server(() => {});
    const refresh = createRefresher({ tokenUrl: s.url, timeoutMs: 50 });
    const err = await refresh(credential(), new AbortController().signal).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "RefreshError", permanent: false, status: undefined });
    expect((err as Error).message).toMatch(/did not answer within 50 ms/);
    expect((err as Error).cause).toMatchObject({ name: "TimeoutError" });
    await expect.poll(() => s.abandoned).toBe(1);
  });

  it("gives up on a body that never ends, at the same timeout", async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write(`{"access_token":"${NEW_ACCESS}"`);
    });
    const refresh = createRefresher({ tokenUrl: s.url, timeoutMs: 50 });
    const err = await refresh(credential(), new AbortController().signal).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/did not answer within 50 ms/);
    expectNoSecret(inspect(err, { depth: Number.POSITIVE_INFINITY }));
    await expect.poll(() => s.abandoned).toBe(1);
  });

  it("cuts off a 10 MB answer sent without a length, and closes the connection", async () => {
    const chunk = Buffer.alloc(64 * 1024, "a");
    const total = 10 * 1024 * 1024;
    let written = 0;
    const s = await server((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const pump = () => {
        while (written < total && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
    });
    const err = await createRefresher({ tokenUrl: s.url })(
      credential(),
      new AbortController().signal,
    ).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/body over 1048576 bytes, not read further/);
    await expect.poll(() => s.abandoned).toBe(1);
    expect(written).toBeLessThan(total);
  });

  it("rejects at once with the reason of a signal aborted before the call, sending nothing", async () => {
    const s = await server((_req, res) => json(res, 200, { access_token: NEW_ACCESS }));
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    controller.abort(reason);
    await expect(
      createRefresher({ tokenUrl: s.url })(credential(), controller.signal),
    ).rejects.toBe(reason);
    expect(s.received).toHaveLength(0);
  });

  it("stops a hanging request when the caller's signal aborts", async () => {
    const s = await server(() => {});
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    const pending = createRefresher({ tokenUrl: s.url })(credential(), controller.signal);
    await expect.poll(() => s.received.length).toBe(1);
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await expect.poll(() => s.abandoned).toBe(1);
  });

  it("stops reading a body when the caller's signal aborts, even with a fetch that ignores signals", async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull: () => new Promise(() => {}),
      cancel: () => {
        cancelled = true;
      },
    });
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    const pending = createRefresher({
      tokenUrl: "https://auth.example.test/token",
      fetch: async () => {
        queueMicrotask(() => controller.abort(reason));
        return new Response(body, { status: 200 });
      },
    })(credential(), controller.signal);
    await expect(pending).rejects.toBe(reason);
    expect(cancelled).toBe(true);
  });
});

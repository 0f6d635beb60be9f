/**
 * oauth2Refresh against local token endpoints: the exact request for each body format and client
 * authentication, and what comes back from the answers real providers give.
 */
import * as oauth from "oauth4webapi";
import { afterEach, describe, expect, it } from "vitest";
import { RefreshError } from "../errors.js";
import type { OAuthCredentialSet } from "../types.js";
import { createRefresher, oauth2Refresh } from "./oauth2.js";
import { json, startTokenServer, type TokenServer } from "./test-support/token-server.js";

const servers: TokenServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(...args: Parameters<typeof startTokenServer>): Promise<TokenServer> {
  const s = await startTokenServer(...args);
  servers.push(s);
  return s;
}

const signal = () => new AbortController().signal;

function credential(extra: Partial<OAuthCredentialSet> = {}): OAuthCredentialSet {
  return { id: "c1", accessToken: "old-access", refreshToken: "old-refresh", ...extra };
}

const answer = { access_token: "new-access", token_type: "Bearer", expires_in: 3600 };

/** The Basic header's id and secret, decoded as RFC 6749 §2.3.1 says a server must. */
function decodeBasic(header: string | undefined): [string, string] {
  const text = Buffer.from((header ?? "").replace(/^Basic /, ""), "base64").toString("utf8");
  const colon = text.indexOf(":");
  const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, " "));
  return [decode(text.slice(0, colon)), decode(text.slice(colon + 1))];
}

describe("oauth2Refresh: the request", () => {
  it("posts a form with the client in the body by default", async () => {
    const s = await server((_req, res) => json(res, 200, answer));
    const refresh = oauth2Refresh({ tokenUrl: s.url, clientId: "app", clientSecret: "shh" });
    await refresh(credential(), signal());
    const [req] = s.received;
    expect(req?.method).toBe("POST");
    expect(req?.path).toBe("/oauth/token");
    expect(req?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(req?.headers.accept).toBe("application/json");
    expect(req?.headers.authorization).toBeUndefined();
    expect(Object.fromEntries(new URLSearchParams(req?.body))).toEqual({
      grant_type: "refresh_token",
      refresh_token: "old-refresh",
      client_id: "app",
      client_secret: "shh",
    });
  });

  it("posts JSON when bodyFormat is json", async () => {
    const s = await server((_req, res) => json(res, 200, answer));
    const refresh = oauth2Refresh({ tokenUrl: s.url, bodyFormat: "json", clientId: "app" });
    await refresh(credential(), signal());
    const [req] = s.received;
    expect(req?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(req?.body ?? "")).toEqual({
      grant_type: "refresh_token",
      refresh_token: "old-refresh",
      client_id: "app",
    });
  });

  it("authenticates with HTTP Basic, form-urlencoding both parts, and keeps them out of the body", async () => {
    const s = await server((_req, res) => json(res, 200, answer));
    const id = "app:1 é";
    const secret = "s3cr+t/=:& x";
    const refresh = oauth2Refresh({
      tokenUrl: s.url,
      clientAuth: "basic",
      clientId: id,
      clientSecret: secret,
    });
    await refresh(credential(), signal());
    const [req] = s.received;
    expect(decodeBasic(req?.headers.authorization)).toEqual([id, secret]);
    expect(Object.fromEntries(new URLSearchParams(req?.body))).toEqual({
      grant_type: "refresh_token",
      refresh_token: "old-refresh",
    });

    // The reference implementation's header carries the same id and secret.
    let reference: string | undefined;
    await oauth.refreshTokenGrantRequest(
      { issuer: s.origin, token_endpoint: s.url },
      { client_id: id },
      oauth.ClientSecretBasic(secret),
      "old-refresh",
      {
        [oauth.allowInsecureRequests]: true,
        [oauth.customFetch]: async (_url, init) => {
          reference = new Headers(init.headers).get("authorization") ?? undefined;
          return Response.json(answer);
        },
      },
    );
    expect(decodeBasic(reference)).toEqual(decodeBasic(req?.headers.authorization));
  });

  it("sends Basic with JSON bodies too", async () => {
    const s = await server((_req, res) => json(res, 200, answer));
    const refresh = oauth2Refresh({
      tokenUrl: s.url,
      clientAuth: "basic",
      bodyFormat: "json",
      clientId: "app",
      clientSecret: "shh",
    });
    await refresh(credential(), signal());
    const [req] = s.received;
    expect(decodeBasic(req?.headers.authorization)).toEqual(["app", "shh"]);
    expect(JSON.parse(req?.body ?? "")).toEqual({
      grant_type: "refresh_token",
      refresh_token: "old-refresh",
    });
  });

  it("adds scope, extra parameters and headers", async () => {
    const s = await server((_req, res) => json(res, 200, answer));
    const refresh = oauth2Refresh({
      tokenUrl: s.url,
      scope: "openid offline_access",
      extraParams: { audience: "api" },
      headers: { "User-Agent": "tool/1.0" },
    });
    await refresh(credential(), signal());
    const [req] = s.received;
    expect(req?.headers["user-agent"]).toBe("tool/1.0");
    expect(Object.fromEntries(new URLSearchParams(req?.body))).toEqual({
      grant_type: "refresh_token",
      refresh_token: "old-refresh",
      scope: "openid offline_access",
      audience: "api",
    });
  });

  it("takes the client from the options, then the credential, then the provider's public client", async () => {
    const s = await server((_req, res) => json(res, 200, answer));
    const hooks = { defaultClientId: "public-id", defaultClientSecret: "public-secret" };
    const sent = async (options: { clientId?: string }, cred: OAuthCredentialSet) => {
      await createRefresher({ tokenUrl: s.url, ...options }, hooks)(cred, signal());
      return Object.fromEntries(new URLSearchParams(s.received.at(-1)?.body));
    };
    expect(await sent({}, credential())).toMatchObject({
      client_id: "public-id",
      client_secret: "public-secret",
    });
    expect(
      await sent({}, credential({ clientId: "own-id", clientSecret: "own-secret" })),
    ).toMatchObject({ client_id: "own-id", client_secret: "own-secret" });
    // The public client's secret would be refused for another client: it is not sent with one.
    const own = await sent({}, credential({ clientId: "own-id" }));
    expect(own.client_id).toBe("own-id");
    expect(own.client_secret).toBeUndefined();
    const fromOptions = await sent({ clientId: "opt-id" }, credential({ clientId: "own-id" }));
    expect(fromOptions.client_id).toBe("opt-id");
  });

  it("does not follow a redirect: the secrets never reach the other origin", async () => {
    const elsewhere = await server((_req, res) => json(res, 200, answer));
    const s = await server((_req, res) => {
      res.writeHead(307, { location: elsewhere.url });
      res.end();
    });
    const refresh = oauth2Refresh({ tokenUrl: s.url, clientSecret: "shh" });
    const err = await refresh(credential(), signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefreshError);
    expect(err).toMatchObject({ status: 307, permanent: false });
    expect((err as Error).message).toMatch(/redirect \(307\)/);
    expect(elsewhere.received).toHaveLength(0);
  });

  it("uses the fetch it is given", async () => {
    const calls: string[] = [];
    const refresh = oauth2Refresh({
      tokenUrl: "https://auth.example.test/token",
      fetch: async (url) => {
        calls.push(String(url));
        return Response.json(answer);
      },
    });
    await refresh(credential(), signal());
    expect(calls).toEqual(["https://auth.example.test/token"]);
  });
});

describe("oauth2Refresh: the answer", () => {
  const now = Date.now();

  async function refreshWith(
    body: unknown,
    cred = credential(),
    hooks = {},
  ): Promise<OAuthCredentialSet & { providerData?: unknown }> {
    const s = await server((_req, res) => json(res, 200, body));
    return createRefresher({ tokenUrl: s.url }, hooks)(cred, signal());
  }

  it("takes the new tokens, the expiry and the scopes", async () => {
    const cred = await refreshWith({
      ...answer,
      refresh_token: "new-refresh",
      scope: "read  write",
    });
    expect(cred.accessToken).toBe("new-access");
    expect(cred.refreshToken).toBe("new-refresh");
    expect(cred.scopes).toEqual(["read", "write"]);
    expect(cred.expiresAt?.getTime()).toBeGreaterThanOrEqual(now + 3600_000);
    expect(cred.expiresAt?.getTime()).toBeLessThan(now + 3600_000 + 60_000);
  });

  it("keeps the old refresh token and scopes when the answer has none (Google)", async () => {
    const cred = await refreshWith(
      { access_token: "new-access", expires_in: 3599, token_type: "Bearer" },
      credential({ scopes: ["a", "b"] }),
    );
    expect(cred.refreshToken).toBe("old-refresh");
    expect(cred.scopes).toEqual(["a", "b"]);
  });

  it("reads expires_in sent as a numeric string", async () => {
    const cred = await refreshWith({ access_token: "new-access", expires_in: "7200" });
    expect(cred.expiresAt?.getTime()).toBeGreaterThanOrEqual(now + 7200_000);
  });

  it("reads Google's expiry_date in epoch milliseconds", async () => {
    const at = now + 3_000_000;
    const cred = await refreshWith({ access_token: "new-access", expiry_date: at });
    expect(cred.expiresAt?.getTime()).toBe(at);
  });

  it("leaves the expiry unset when the answer gives none", async () => {
    const cred = await refreshWith(
      { access_token: "new-access" },
      credential({ expiresAt: new Date(now - 1000) }),
    );
    expect(cred.expiresAt).toBeUndefined();
  });

  it("keeps provider facts from the answer (Qwen's resource_url), merged with the old ones", async () => {
    const cred = await refreshWith(
      { ...answer, resource_url: "portal.qwen.ai" },
      { ...credential(), providerData: { projectId: "p1" } } as OAuthCredentialSet,
      {
        providerData: (body: Readonly<Record<string, unknown>>) => ({
          resourceUrl: body.resource_url as string,
        }),
      },
    );
    expect(cred.providerData).toEqual({ projectId: "p1", resourceUrl: "portal.qwen.ai" });
  });

  it("keeps the new tokens when the provider-facts hook throws", async () => {
    const cred = await refreshWith(
      { ...answer, refresh_token: "new-refresh" },
      { ...credential(), providerData: { projectId: "p1" } } as OAuthCredentialSet,
      {
        providerData: () => {
          throw new Error("unexpected shape");
        },
      },
    );
    expect(cred).toMatchObject({ accessToken: "new-access", refreshToken: "new-refresh" });
    expect(cred.providerData).toEqual({ projectId: "p1" });
  });

  it("never stores an id_token", async () => {
    const cred = await refreshWith({ ...answer, id_token: "a.b.c" });
    expect(JSON.stringify(cred)).not.toContain("a.b.c");
  });
});

describe("oauth2Refresh: options", () => {
  const tokenUrl = "https://auth.example.test/token";
  const cases: [string, unknown, RegExp, (new (m?: string) => Error)?][] = [
    ["no options", undefined, /Expected `options` to be an object, got undefined/],
    ["no tokenUrl", {}, /Expected `tokenUrl` to be an http\(s\) URL, got undefined/],
    ["a relative tokenUrl", { tokenUrl: "/token" }, /got a string that is not a URL/],
    ["a file: tokenUrl", { tokenUrl: "file:///etc/passwd" }, /got a URL with protocol file:/],
    [
      "a tokenUrl with a password",
      { tokenUrl: "https://u:p@auth.example.test/token" },
      /without a user name or password/,
    ],
    ["a misspelt option", { tokenUrl, clientSecert: "x" }, /did you mean `clientSecret`\?/],
    ["an unknown option", { tokenUrl, zzzzzzzzzz: 1 }, /known options are tokenUrl, clientId/],
    [
      "a wrong clientAuth",
      { tokenUrl, clientAuth: "post" },
      /`clientAuth` to be "body" or "basic"/,
    ],
    ["a wrong bodyFormat", { tokenUrl, bodyFormat: "xml" }, /`bodyFormat` to be "form" or "json"/],
    ["an empty clientSecret", { tokenUrl, clientSecret: "" }, /got an empty string/],
    ["a numeric clientId", { tokenUrl, clientId: 42 }, /`clientId` .* got a number/],
    [
      "extraParams with a number",
      { tokenUrl, extraParams: { a: 1 } },
      /`extraParams.a` to be a string/,
    ],
    [
      "extraParams replacing the grant",
      { tokenUrl, extraParams: { refresh_token: "x" } },
      /without `refresh_token`/,
    ],
    ["extraParams with scope", { tokenUrl, extraParams: { scope: "x" } }, /use the `scope` option/],
    [
      "a content-type header",
      { tokenUrl, headers: { "Content-Type": "text/plain" } },
      /set by bodyFormat/,
    ],
    [
      "an Authorization header with Basic",
      { tokenUrl, clientAuth: "basic", headers: { authorization: "x" } },
      /set by clientAuth/,
    ],
    ["a bad header name", { tokenUrl, headers: { "a b": "x" } }, /valid HTTP header/],
    ["a fetch that is not a function", { tokenUrl, fetch: "fetch" }, /`fetch` to be a function/],
    ["a string timeout", { tokenUrl, timeoutMs: "5" }, /`timeoutMs` to be a number, got a string/],
    ["a zero timeout", { tokenUrl, timeoutMs: 0 }, /got 0/, RangeError],
    [
      "an endless timeout",
      { tokenUrl, timeoutMs: Number.POSITIVE_INFINITY },
      /got Infinity/,
      RangeError,
    ],
  ];
  it.each(cases)("refuses %s at once", (_name, options, message, type = TypeError) => {
    const call = () => oauth2Refresh(options as never);
    expect(call).toThrow(type);
    expect(call).toThrow(message);
  });

  it("refuses unknown or mistyped hooks", () => {
    expect(() => createRefresher({ tokenUrl }, { isPermanant: () => true } as never)).toThrow(
      /Unknown hook `isPermanant`; did you mean `isPermanent`\?/,
    );
    expect(() => createRefresher({ tokenUrl }, { providerData: "x" } as never)).toThrow(
      /hook `providerData` to be a function, got a string/,
    );
  });

  it("does not quote a value passed in the wrong place (it may be a secret)", () => {
    expect(() => oauth2Refresh({ tokenUrl, clientAuth: "sk-live-secret" as never })).toThrow(
      /got a string$/,
    );
  });

  it("accepts undefined for optional options, as presets spread them", () => {
    expect(() => oauth2Refresh({ tokenUrl, clientId: undefined } as never)).not.toThrow();
  });
});

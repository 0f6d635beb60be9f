/**
 * oauth2Refresh against a real OAuth 2.0 server that nobody here wrote: oidc-provider on
 * 127.0.0.1, rotating the refresh token on every refresh. A manager refreshes through it; each
 * refresh token is sent once, the spent one is refused by the server, and the new access token
 * is accepted by it.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RefreshError } from "../src/errors.js";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import { createRefresher, oauth2Refresh } from "../src/providers/oauth2.js";

const BASIC_CLIENT = { id: "basic-client", secret: "basic-client-secret-0123456789" };
const POST_CLIENT = { id: "post-client", secret: "post-client-secret-0123456789" };

let server: Server;
let provider: Provider;
let issuer: string;

beforeAll(async () => {
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  provider = new Provider(issuer, {
    clients: [
      {
        client_id: BASIC_CLIENT.id,
        client_secret: BASIC_CLIENT.secret,
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        redirect_uris: ["http://127.0.0.1:9/cb"],
        token_endpoint_auth_method: "client_secret_basic",
      },
      {
        client_id: POST_CLIENT.id,
        client_secret: POST_CLIENT.secret,
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        redirect_uris: ["http://127.0.0.1:9/cb"],
        token_endpoint_auth_method: "client_secret_post",
      },
    ],
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    cookies: { keys: ["test-cookie-key-not-a-secret"] },
    // Every refresh hands out a new refresh token and spends the old one.
    rotateRefreshToken: true,
    // Explicit, so the provider does not print a notice for each default it falls back on.
    ttl: { AccessToken: 3600, IdToken: 3600, RefreshToken: 86_400, Grant: 86_400 },
    features: { devInteractions: { enabled: false } },
  });
  server.on("request", provider.callback());
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A refresh token minted with the provider's own models (no login pages to drive). */
async function mintRefreshToken(clientId: string): Promise<string> {
  const client = await provider.Client.find(clientId);
  if (!client) throw new Error(`no client ${clientId}`);
  const grant = new provider.Grant({ accountId: "user-1", clientId });
  grant.addOIDCScope("openid offline_access");
  const grantId = await grant.save();
  return new provider.RefreshToken({
    client,
    accountId: "user-1",
    grantId,
    scope: "openid offline_access",
    gty: "authorization_code",
  }).save();
}

/** fetch that records the refresh token of every request it sends. */
function recordingFetch(sent: string[]): typeof fetch {
  return async (input, init) => {
    const token = new URLSearchParams(String(init?.body)).get("refresh_token");
    if (token) sent.push(token);
    return fetch(input, init);
  };
}

async function userinfo(accessToken: string): Promise<number> {
  const res = await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  await res.body?.cancel();
  return res.status;
}

describe("oauth2Refresh against oidc-provider (rotating refresh tokens)", () => {
  it("a manager refreshes through it; each refresh token is sent once, and the spent one is refused", async () => {
    const first = await mintRefreshToken(BASIC_CLIENT.id);
    const sent: string[] = [];
    const refresh = oauth2Refresh({
      tokenUrl: `${issuer}/token`,
      clientAuth: "basic",
      fetch: recordingFetch(sent),
    });
    const manager = new OAuthKeyManager(
      "oidc",
      [
        {
          id: "user-1",
          accessToken: "",
          refreshToken: first,
          clientId: BASIC_CLIENT.id,
          clientSecret: BASIC_CLIENT.secret,
        },
      ],
      refresh,
    );
    try {
      // An empty access token is refreshed before the first request.
      const { result: cred } = await manager.executeWithFailover(async (c) => ({
        result: { ...c },
      }));
      expect(cred.accessToken).not.toBe("");
      expect(cred.refreshToken).not.toBe(first);
      expect(cred.scopes).toEqual(["openid", "offline_access"]);
      expect(cred.expiresAt?.getTime()).toBeGreaterThan(Date.now());
      expect(await userinfo(cred.accessToken)).toBe(200);

      const second = cred.refreshToken as string;
      const again = await manager.refreshCredential("user-1", { force: true });
      expect(again.refreshToken).not.toBe(second);
      expect(await userinfo(again.accessToken)).toBe(200);

      // Each refresh token went out exactly once, the spent one never again.
      expect(sent).toEqual([first, second]);
    } finally {
      await manager.close();
    }

    // The server refuses the spent token, and the refresher calls that a dead grant.
    const err = await refresh(
      {
        id: "stale-copy",
        accessToken: "x",
        refreshToken: first,
        clientId: BASIC_CLIENT.id,
        clientSecret: BASIC_CLIENT.secret,
      },
      new AbortController().signal,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefreshError);
    expect(err).toMatchObject({ oauthError: "invalid_grant", status: 400, permanent: true });
    expect((err as Error).message).not.toContain(first);
    expect((err as Error).message).not.toContain(BASIC_CLIENT.secret);
  });

  it("authenticates a client_secret_post client with the secret in the form body", async () => {
    const token = await mintRefreshToken(POST_CLIENT.id);
    const refresh = createRefresher({ tokenUrl: `${issuer}/token` });
    const cred = await refresh(
      {
        id: "post",
        accessToken: "",
        refreshToken: token,
        clientId: POST_CLIENT.id,
        clientSecret: POST_CLIENT.secret,
      },
      new AbortController().signal,
    );
    expect(await userinfo(cred.accessToken)).toBe(200);
  });

  it("a wrong client secret is invalid_client, a dead grant, with the secret nowhere in the error", async () => {
    const token = await mintRefreshToken(BASIC_CLIENT.id);
    const wrong = "wrong-secret-0123456789";
    const err = await oauth2Refresh({ tokenUrl: `${issuer}/token`, clientAuth: "basic" })(
      {
        id: "bad",
        accessToken: "x",
        refreshToken: token,
        clientId: BASIC_CLIENT.id,
        clientSecret: wrong,
      },
      new AbortController().signal,
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ oauthError: "invalid_client", status: 401, permanent: true });
    expect(JSON.stringify(err)).not.toContain(wrong);
    expect((err as Error).message).not.toContain(token);
  });
});

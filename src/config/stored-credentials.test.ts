import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { MemoryTokenStore } from "../stores/memory-store.js";
import { createManagers, parseConfig } from "./index.js";
import { addStoredCredentials } from "./stored-credentials.js";

const YAML = `store: { type: memory }
providers:
  qwen: {}
  internal:
    token_url: https://auth.example.test/token
    login:
      authorization_url: https://auth.example.test/authorize
      client_id: cli-client
      client_secret: login-secret-CANARY
      scopes: openid email
      redirect_uri: http://127.0.0.1:0/callback
    oauth_credentials:
      - { id: listed, access_token: at-listed }
`;

describe("a provider's logins in the store", () => {
  it("a provider may list no credentials when a store holds its logins, not without one", () => {
    const config = parseConfig(YAML, {});
    expect(config.providers.qwen?.oauthCredentials).toEqual([]);
    expect(config.providers.internal?.login).toEqual({
      authorizationUrl: "https://auth.example.test/authorize",
      clientId: "cli-client",
      clientSecret: "login-secret-CANARY",
      scopes: ["openid", "email"],
      redirectUri: "http://127.0.0.1:0/callback",
    });
    expect(inspect(config, { depth: 10 })).not.toContain("CANARY");
    expect(JSON.stringify(config)).not.toContain("CANARY");

    const err = (() => {
      try {
        parseConfig("providers:\n  qwen: {}\n  gemini:\n    login: { client_idd: x }\n", {});
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([
      {
        path: "providers.gemini.login.client_idd",
        message: 'unknown key "client_idd", did you mean "client_id"?',
      },
      {
        path: "providers.qwen",
        message:
          "has no credentials: give at least one entry in oauth_credentials or api_keys, or a store for logins added with oauthmanager login or import",
      },
      {
        path: "providers.gemini",
        message:
          "has no credentials: give at least one entry in oauth_credentials or api_keys, or a store for logins added with oauthmanager login or import",
      },
    ]);
  });

  it("addStoredCredentials adds the stored logins a manager does not have, with the login client", async () => {
    const config = parseConfig(YAML, {});
    const store = new MemoryTokenStore();
    await store.save("qwen/qwen-code:abc", { accessToken: "at-q", refreshToken: "rt-q" });
    await store.save("internal/listed", { accessToken: "at-listed" });
    await store.save("internal/signed-in", {
      accessToken: "at-i",
      refreshToken: "rt-i",
      expiresAt: new Date("2030-01-01T00:00:00Z"),
      providerData: { accountId: "acct-1" },
    });
    await store.save("other/x", { accessToken: "at-other" });
    const managers = createManagers(config, { store });
    try {
      const added = await addStoredCredentials(config, managers, store);
      expect(Object.fromEntries(added)).toEqual({
        qwen: ["qwen-code:abc"],
        internal: ["signed-in"],
      });
      for (const m of managers.values()) await m.ready();
      expect(managers.get("qwen")?.getCredentials()).toEqual([
        expect.objectContaining({ id: "qwen-code:abc", accessToken: "at-q", refreshToken: "rt-q" }),
      ]);
      const internal = managers.get("internal")?.getCredentials() ?? [];
      expect(internal.map((c) => c.id)).toEqual(["listed", "signed-in"]);
      expect(internal[1]).toMatchObject({
        clientId: "cli-client",
        clientSecret: "login-secret-CANARY",
        expiresAt: new Date("2030-01-01T00:00:00Z"),
        providerData: { accountId: "acct-1" },
      });
      // The stored qwen login has no login section: it refreshes with the preset's client.
      expect(managers.get("qwen")?.getCredentials()[0]?.clientId).toBeUndefined();
    } finally {
      await Promise.all([...managers.values()].map((m) => m.close()));
      await store.close();
    }
  });
});

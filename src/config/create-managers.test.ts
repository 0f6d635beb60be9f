import { describe, expect, it, vi } from "vitest";
import { ConfigError } from "../errors.js";
import { OAuthKeyManager } from "../manager/oauth-key-manager.js";
import { adaptiveRefreshStrategy } from "../refresh/strategy.js";
import type { OAuthCredentialSet, RefreshFunc } from "../types.js";
import { createManagers, parseConfig } from "./index.js";

const YAML = `providers:
  gemini:
    refresh_strategy: adaptive
    oauth_credentials:
      - { id: team, access_token: a1, refresh_token: r1, expires_at: "2030-01-01T00:00:00Z" }
      - { id: personal, refresh_token: r2 }
  anthropic:
    api_keys: [sk-1, sk-2]
`;

describe("createManagers with the real OAuthKeyManager", () => {
  it("builds one manager per provider, in order, API keys as key-1, key-2", async () => {
    const managers = createManagers(parseConfig(YAML, {}));
    try {
      expect([...managers.keys()]).toEqual(["gemini", "anthropic"]);
      for (const m of managers.values()) expect(m).toBeInstanceOf(OAuthKeyManager);
      expect(
        managers
          .get("gemini")
          ?.getCredentials()
          .map((c) => c.id),
      ).toEqual(["team", "personal"]);
      expect(managers.get("anthropic")?.getCredentials()).toEqual([
        expect.objectContaining({ id: "key-1", accessToken: "sk-1" }),
        expect.objectContaining({ id: "key-2", accessToken: "sk-2" }),
      ]);
      expect(managers.get("gemini")?.getRefreshStrategy()).toEqual(adaptiveRefreshStrategy());
    } finally {
      await Promise.all([...managers.values()].map((m) => m.close()));
    }
  });

  it("gives each manager its provider's refresh function", async () => {
    const refresh = vi.fn<RefreshFunc>(async (cred) => ({
      ...cred,
      accessToken: "fresh",
      expiresAt: new Date("2031-01-01T00:00:00Z"),
    }));
    const managers = createManagers(parseConfig(YAML, {}), { refreshFuncs: { gemini: refresh } });
    try {
      const cred = await managers.get("gemini")!.refreshCredential("personal", { force: true });
      expect(cred.accessToken).toBe("fresh");
      expect(refresh).toHaveBeenCalledTimes(1);
      expect(refresh.mock.calls[0]?.[0].id).toBe("personal");
    } finally {
      await Promise.all([...managers.values()].map((m) => m.close()));
    }
  });

  it("does not share credential objects with the configuration", async () => {
    const config = parseConfig(YAML, {});
    const managers = createManagers(config);
    try {
      config.providers.gemini!.oauthCredentials[0]!.accessToken = "changed";
      expect(managers.get("gemini")?.getCredentials()[0]?.accessToken).toBe("a1");
    } finally {
      await Promise.all([...managers.values()].map((m) => m.close()));
    }
  });

  it("rejects refresh functions for providers that are not configured", () => {
    const refresh: RefreshFunc = async (cred) => cred as OAuthCredentialSet;
    expect(() =>
      createManagers(parseConfig(YAML, {}), { refreshFuncs: { gemeni: refresh } }),
    ).toThrow(
      new ConfigError([
        { path: "refreshFuncs.gemeni", message: 'no provider named "gemeni" is configured' },
      ]),
    );
  });

  it("rejects a refresh function that is not a function", () => {
    expect(() =>
      createManagers(parseConfig(YAML, {}), {
        refreshFuncs: { gemini: "nope" as unknown as RefreshFunc },
      }),
    ).toThrow(TypeError);
  });

  it("rejects something that is not a parsed configuration", () => {
    expect(() => createManagers(null as never)).toThrow(TypeError);
  });
});

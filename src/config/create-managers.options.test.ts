import { describe, expect, it, vi } from "vitest";
import type { OAuthKeyManagerOptions } from "../manager/options.js";
import { conservativeRefreshStrategy } from "../refresh/strategy.js";
import type { TokenStore } from "../stores/types.js";
import type { OAuthCredentialSet, RefreshFunc } from "../types.js";

// What createManagers hands the manager, checked at the constructor whatever the manager does.
const constructed = vi.hoisted(
  () =>
    [] as {
      name: string;
      credentials: OAuthCredentialSet[];
      refresh: RefreshFunc | undefined;
      options: OAuthKeyManagerOptions;
      closed: boolean;
    }[],
);

vi.mock("../manager/oauth-key-manager.js", () => ({
  OAuthKeyManager: class {
    readonly record;
    constructor(
      name: string,
      credentials: OAuthCredentialSet[],
      refresh: RefreshFunc | undefined,
      options: OAuthKeyManagerOptions,
    ) {
      if (name === "explodes") throw new Error("constructor failed");
      this.record = { name, credentials, refresh, options, closed: false };
      constructed.push(this.record);
    }
    async close() {
      this.record.closed = true;
    }
  },
}));

const { createManagers, parseConfig } = await import("./index.js");

const store = {} as TokenStore;

describe("createManagers passes each provider's settings to its manager", () => {
  it("maps selection, backoff, strategy, rotation, monitoring, store and refresh", () => {
    constructed.length = 0;
    const refresh: RefreshFunc = async (c) => c as OAuthCredentialSet;
    createManagers(
      parseConfig(
        `providers:
  gemini:
    selection: fill-first
    backoff: { jitter: true, max_cooldown: 10m }
    refresh_strategy: conservative
    rotation: { enabled: true, grace_period: 1d }
    monitoring: { webhook_url: "https://hooks.example.com/x", alert_on_expiry_soon: false }
    oauth_credentials:
      - { id: a, refresh_token: r, scopes: [s1], weight: 2 }
    api_keys: [k1, k2]
  plain:
    api_keys: [k3]
`,
        {},
      ),
      { refreshFuncs: { gemini: refresh }, store },
    );
    expect(constructed).toHaveLength(2);
    const [gemini, plain] = constructed;
    expect(gemini?.name).toBe("gemini");
    expect(gemini?.refresh).toBe(refresh);
    expect(gemini?.credentials).toEqual([
      { id: "a", accessToken: "", refreshToken: "r", scopes: ["s1"], weight: 2 },
      { id: "key-1", accessToken: "k1" },
      { id: "key-2", accessToken: "k2" },
    ]);
    expect(gemini?.options).toEqual({
      selection: "fill-first",
      backoff: { jitter: true, maxCooldownMs: 600_000 },
      refreshStrategy: conservativeRefreshStrategy(),
      rotationPolicy: {
        enabled: true,
        rotationInterval: 30 * 86_400_000,
        gracePeriod: 86_400_000,
        autoDecommission: true,
      },
      monitoring: {
        webhookUrl: "https://hooks.example.com/x",
        webhookEvents: ["refresh", "failure", "rotation", "expiry_warning"],
        alertOnHighFailureRate: true,
        failureRateThreshold: 0.25,
        alertOnRefreshFailure: true,
        alertOnExpirySoon: false,
        expiryWarningTime: 86_400_000,
      },
      store,
    });
    expect(gemini?.options.store).toBe(store);
    // Nothing configured: the manager's own defaults apply.
    expect(plain).toEqual({
      name: "plain",
      credentials: [{ id: "key-1", accessToken: "k3" }],
      refresh: undefined,
      options: { store },
      closed: false,
    });
  });

  it("maps panic mode, half-open trials, scopes and sessions", () => {
    constructed.length = 0;
    createManagers(
      parseConfig(
        `providers:
  gemini:
    when_all_unavailable: least-bad
    max_wait: 45s
    half_open: true
    max_scopes: 16
    sessions: { max_sessions: 500, ttl: 5m }
    api_keys: [k1]
`,
        {},
      ),
    );
    expect(constructed[0]?.options).toEqual({
      whenAllUnavailable: "least-bad",
      maxWaitMs: 45_000,
      halfOpen: true,
      maxScopes: 16,
      sessions: { maxSessions: 500, ttlMs: 300_000 },
    });
  });

  it("refuses unknown keys and bad values among them, naming the path", () => {
    const parse = (body: string) => () =>
      parseConfig(`providers:\n  gemini:\n    api_keys: [k1]\n${body}`, {});
    expect(parse("    sessions: { ttl_ms: 5m }\n")).toThrow(
      expect.objectContaining({
        issues: [
          expect.objectContaining({
            path: "providers.gemini.sessions.ttl_ms",
            message: 'unknown key "ttl_ms" (known keys: max_sessions, ttl)',
          }),
        ],
      }),
    );
    expect(parse("    when_all_unavailable: panic\n")).toThrow(
      expect.objectContaining({
        issues: [expect.objectContaining({ path: "providers.gemini.when_all_unavailable" })],
      }),
    );
    expect(parse("    half_opn: true\n")).toThrow(
      expect.objectContaining({
        issues: [
          expect.objectContaining({
            message: expect.stringContaining('did you mean "half_open"?'),
          }),
        ],
      }),
    );
  });

  it("closes the managers already built when a later one fails", async () => {
    constructed.length = 0;
    const config = parseConfig(
      "providers:\n  first:\n    api_keys: [k]\n  explodes:\n    api_keys: [k]\n",
      {},
    );
    expect(() => createManagers(config)).toThrow("constructor failed");
    await Promise.resolve();
    expect(constructed.map((c) => [c.name, c.closed])).toEqual([["first", true]]);
  });
});

import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { createManagers, parseConfig } from "./index.js";

const YAML = `
providers:
  gemini:
    source_recheck: 5s
    oauth_credentials:
      - id: cli
        owner: external
        source: { format: gemini-cli, path: ~/.gemini/oauth_creds.json }
      - id: mine
        refresh_token: rt
    budgets:
      credential: { hour: { tokens: 100000 }, month: { cost: 50 } }
      credentials: { mine: { day: { tokens: 5000 } } }
      provider: { day: { cost: 100 } }
      prices: { gemini-2.5-pro: { input: 1.25, output: 10 } }
      alert_at: 0.9
      enforce: true
      flush_interval: 30s
    refresh_anomaly:
      min_refreshes: 4
      window: 2h
      factor: 3
      refresh_token_max_idle: 90d
`;

describe("config: external owners, budgets and refresh anomalies", () => {
  it("parses every field into the manager's options", async () => {
    const config = parseConfig(YAML, {});
    const p = config.providers.gemini!;
    expect(p.oauthCredentials[0]).toMatchObject({
      id: "cli",
      owner: "external",
      source: { format: "gemini-cli", path: join(homedir(), ".gemini/oauth_creds.json") },
      accessToken: "",
    });
    expect(p.sourceRecheckMs).toBe(5_000);
    expect(p.budgets).toEqual({
      credential: { hour: { tokens: 100_000 }, month: { cost: 50 } },
      credentials: { mine: { day: { tokens: 5_000 } } },
      provider: { day: { cost: 100 } },
      prices: { "gemini-2.5-pro": { input: 1.25, output: 10 } },
      alertAt: 0.9,
      enforce: true,
      flushIntervalMs: 30_000,
    });
    expect(p.refreshAnomaly).toEqual({
      minRefreshes: 4,
      windowMs: 7_200_000,
      factor: 3,
      refreshTokenMaxIdleMs: 90 * 86_400_000,
    });
    const managers = createManagers(config);
    const m = managers.get("gemini")!;
    const cred = m.getCredentials().find((c) => c.id === "cli");
    expect(cred?.owner).toBe("external");
    expect(m.getCredentialHealthInfo("mine")?.budget?.map((b) => b.window)).toEqual([
      "hour",
      "day",
      "month",
    ]);
    await m.close();
  });

  it("refuses a source without owner: external, and bad budget values, by path", () => {
    const bad = `
providers:
  gemini:
    oauth_credentials:
      - id: a
        access_token: x
        source: { format: gemini-cli, path: /tmp/x.json }
    budgets:
      credential: { hour: { tokens: 0 } }
      alert_at: 2
`;
    let error: unknown;
    try {
      parseConfig(bad, {});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const paths = (error as ConfigError).issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "providers.gemini.oauth_credentials[0].source",
        "providers.gemini.budgets.credential.hour.tokens",
        "providers.gemini.budgets.alert_at",
      ]),
    );
  });
});

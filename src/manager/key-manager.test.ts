import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError, FailoverExhaustedError } from "../errors.js";
import { KeyManager } from "./key-manager.js";

describe("KeyManager", () => {
  it("round-robins keys and fails over like the OAuth manager", async () => {
    const km = new KeyManager("openai", ["sk-A-secret", "sk-B-secret", "sk-C-secret"], {
      logger: { warn() {}, error() {} },
    });
    const seen: string[] = [];
    const res = await km.executeWithFailover(async (key) => {
      seen.push(key);
      if (key === "sk-A-secret") throw Object.assign(new Error("server error"), { status: 500 });
      return { result: "ok", usage: { promptTokens: 1, completionTokens: 1 } };
    });
    expect(seen).toEqual(["sk-A-secret", "sk-B-secret"]);
    expect(res.credentialId).toBe("key-2");
    expect(await km.getNextKey()).toBe("sk-C-secret");
    expect(km.getCredentialHealthInfo("key-1")?.isAvailable).toBe(false);
  });

  it("shows keys by id, never by value, in metrics, exports and errors", async () => {
    const km = new KeyManager("openai", ["sk-A-secret", "sk-B-secret"], {
      logger: { warn() {}, error() {} },
    });
    const err = await km
      .executeWithFailover(async (key) => {
        throw new Error(`rejected key ${key}`);
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailoverExhaustedError);
    const everything = [
      JSON.stringify(km.getHealthSummary()),
      JSON.stringify(km.exportPrometheus()),
      JSON.stringify(km.getAllMetrics()),
      inspect(err, { depth: 10 }),
      (err as Error).message,
    ].join("\n");
    expect(everything).not.toContain("sk-A-secret");
    expect(everything).not.toContain("sk-B-secret");
    expect(everything).toContain("key-1");
  });

  it("reportFailure and reportSuccess take the key", async () => {
    const km = new KeyManager("p", ["k1", "k2"]);
    km.reportFailure("k1");
    expect(await km.getNextKey()).toBe("k2");
    km.reportSuccess("k1");
    expect(km.getCredentialHealthInfo("key-1")?.isAvailable).toBe(true);
  });

  it("rejects empty and duplicate keys by position", () => {
    expect(() => new KeyManager("p", ["sk-same", "", "sk-same"])).toThrow(ConfigError);
    try {
      new KeyManager("p", ["sk-same", "", "sk-same"]);
    } catch (e) {
      expect((e as ConfigError).issues).toEqual([
        { path: "apiKeys[1]", message: "must be a non-empty string" },
        { path: "apiKeys[2]", message: "duplicates apiKeys[0]" },
      ]);
      expect((e as Error).message).not.toContain("sk-same");
    }
  });
});

describe("KeyManager exports", () => {
  it("has the same JSON and Prometheus exports, by key id", async () => {
    const km = new KeyManager("openai", ["sk-SECRET-1", "sk-SECRET-2"]);
    await km.executeWithFailover(async (key) => ({ result: key.length }));
    const json = JSON.parse(km.exportJSON()) as { credentials: Record<string, unknown> };
    expect(Object.keys(json.credentials)).toEqual(["key-1", "key-2"]);
    const text = await km.exportPrometheusText();
    expect(text).toContain('oauthmanager_requests_total{provider="openai",credential="key-1"} 1');
    expect(`${km.exportJSON()}${text}`).not.toContain("sk-SECRET");
    km.setMonitoringConfig();
    expect(km.getMonitoringConfig().failureRateThreshold).toBe(0.25);
    expect(km.checkAlerts()).toEqual([]);
    await km.close();
  });
});

// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} placeholders are literal text here
import { readFile } from "node:fs/promises";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { parseConfig } from "./index.js";

const FIXTURES = new URL("../../test/fixtures/config/", import.meta.url);

const WHSEC = `whsec_${Buffer.from("CANARY-WEBHOOK-SECRET-0123456789").toString("base64")}`;
const STORE_KEY_B64 = Buffer.from("CANARY-STORE-KEY-0123456789abcde").toString("base64");
const ENV = {
  GATEWAY_KEY: "CANARY-gateway-key",
  ADMIN_KEY: "CANARY-admin-key",
  // a valid AES-256 key (32 bytes, base64), which parseConfig checks
  STORE_KEY: STORE_KEY_B64,
  WEBHOOK_SECRET: WHSEC,
  GEMINI_SECRET_1: "CANARY-client-secret",
  GEMINI_REFRESH_1: "CANARY-refresh-1",
  GEMINI_REFRESH_2: "CANARY-refresh-2",
  ANTHROPIC_KEY_1: "CANARY-api-key-1",
  ANTHROPIC_KEY_2: "CANARY-api-key-2",
  INTERNAL_TOKEN: "CANARY-access-token",
};

/** Every way a parsed configuration gets printed. */
function shown(value: unknown): string {
  return [
    inspect(value),
    inspect(value, { depth: Number.POSITIVE_INFINITY }),
    JSON.stringify(value),
    JSON.stringify(value, null, 2),
  ].join("\n");
}

describe("a parsed configuration shows no secret when printed", () => {
  it("hides tokens, client secrets, api keys, webhook and store secrets, gateway keys", async () => {
    const text = await readFile(new URL("full.yaml", FIXTURES), "utf8");
    const config = parseConfig(text, ENV);
    const out = shown(config);
    expect(out).not.toContain("CANARY");
    expect(out).not.toContain(WHSEC.slice(6));
    expect(out).not.toContain(STORE_KEY_B64);
    expect(out).toContain("[REDACTED]");
    // Each part on its own too: a provider, a credential, the monitoring section, the server.
    const gemini = config.providers.gemini!;
    for (const part of [
      gemini,
      gemini.oauthCredentials,
      gemini.oauthCredentials[0],
      gemini.monitoring,
      config.providers.anthropic,
      config.server,
      config.store,
    ]) {
      expect(shown(part)).not.toContain("CANARY");
    }
    // The webhook URL is shown by its origin only.
    expect(out).toContain("https://hooks.example.com");
    expect(out).not.toContain("hooks.example.com/oauth");
  });

  it("reading the fields still gives the real values", async () => {
    const text = await readFile(new URL("full.yaml", FIXTURES), "utf8");
    const config = parseConfig(text, ENV);
    const gemini = config.providers.gemini!;
    expect(gemini.oauthCredentials[0]?.refreshToken).toBe("CANARY-refresh-1");
    expect(gemini.oauthCredentials[0]?.clientSecret).toBe("CANARY-client-secret");
    expect(gemini.monitoring?.webhookSecret).toBe(WHSEC);
    expect(gemini.monitoring?.webhookUrl).toBe("https://hooks.example.com/oauth");
    expect(config.providers.anthropic?.apiKeys).toEqual(["CANARY-api-key-1", "CANARY-api-key-2"]);
    expect(config.server).toMatchObject({
      clientKeys: ["CANARY-gateway-key"],
      adminKey: "CANARY-admin-key",
    });
    expect(config.store).toMatchObject({ encryptionKey: STORE_KEY_B64 });
    expect({ ...gemini.oauthCredentials[0] }.accessToken).toBe("");
  });

  it("hides a Redis password and credential headers", () => {
    const config = parseConfig(
      [
        "providers:",
        "  openai:",
        '    api_keys: ["CANARY-key"]',
        "    headers:",
        "      x-api-key: CANARY-header-key",
        "      Authorization: Bearer CANARY-header-token",
        "      OpenAI-Beta: assistants=v2",
        "store: { type: redis, url: 'redis://user:CANARY-redis-pw@redis.internal:6379/0', prefix: om }",
        "",
      ].join("\n"),
      {},
    );
    const out = shown(config);
    expect(out).not.toContain("CANARY");
    expect(out).toContain("assistants=v2");
    expect(out).toContain("redis.internal:6379");
    expect(config.store).toMatchObject({
      url: "redis://user:CANARY-redis-pw@redis.internal:6379/0",
    });
    expect(config.providers.openai?.headers?.["x-api-key"]).toBe("CANARY-header-key");
  });
});

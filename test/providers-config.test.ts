// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} placeholders are literal text here
import { afterEach, describe, expect, it } from "vitest";
import { createManagers, parseConfig } from "../src/config/index.js";
import { QWEN_CODE_CLIENT_ID } from "../src/providers/catalog.js";
import {
  json,
  startTokenServer,
  type TokenServer,
} from "../src/providers/test-support/token-server.js";

/** A token endpoint that answers every refresh with `answer` and records what it got. */
async function tokenEndpoint(answer: Record<string, unknown>): Promise<TokenServer> {
  const server = await startTokenServer((_req, res) => json(res, 200, answer));
  servers.push(server);
  return server;
}

const servers: TokenServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe("createManagers gives providers a refresher without code", () => {
  it("a custom provider refreshes through its token_url, client_auth and body_format", async () => {
    const endpoint = await tokenEndpoint({ access_token: "fresh", expires_in: 3600 });
    const config = parseConfig(
      `providers:
  internal:
    token_url: ${endpoint.url}
    client_auth: basic
    body_format: json
    oauth_credentials:
      - { id: a, client_id: cid, client_secret: "\${SECRET}", refresh_token: "\${RT}" }
`,
      { SECRET: "s3cret", RT: "rt-1" },
    );
    const managers = createManagers(config);
    const m = managers.get("internal")!;
    try {
      const { result } = await m.executeWithFailover(async (cred) => ({
        result: cred.accessToken,
      }));
      expect(result).toBe("fresh");
      expect(endpoint.received).toHaveLength(1);
      const [req] = endpoint.received;
      expect(req!.headers["content-type"]).toMatch(/^application\/json/);
      expect(JSON.parse(req!.body)).toMatchObject({
        grant_type: "refresh_token",
        refresh_token: "rt-1",
      });
      const basic = Buffer.from("cid:s3cret").toString("base64");
      expect(req!.headers.authorization).toBe(`Basic ${basic}`);
    } finally {
      await m.close();
    }
  });

  it("a provider named qwen uses its preset: Qwen Code's client, a form body, resource_url kept", async () => {
    const endpoint = await tokenEndpoint({
      access_token: "qwen-fresh",
      refresh_token: "rt-2",
      expires_in: 3600,
      resource_url: "portal.qwen.ai",
    });
    const config = parseConfig(
      `providers:
  qwen:
    token_url: ${endpoint.url}
    oauth_credentials:
      - { id: q, refresh_token: rt-1 }
`,
    );
    const m = createManagers(config).get("qwen")!;
    try {
      const { result } = await m.executeWithFailover(async (cred) => ({
        result: { token: cred.accessToken, base: cred.providerData?.resourceUrl },
      }));
      expect(result).toEqual({ token: "qwen-fresh", base: "https://portal.qwen.ai/v1" });
      const form = new URLSearchParams(endpoint.received[0]!.body);
      expect(endpoint.received[0]!.headers["content-type"]).toMatch(
        /^application\/x-www-form-urlencoded/,
      );
      expect(form.get("client_id")).toBe(QWEN_CODE_CLIENT_ID);
      expect(form.get("refresh_token")).toBe("rt-1");
      expect(m.getCredentials()[0]).toMatchObject({
        refreshToken: "rt-2",
        providerData: { resourceUrl: "https://portal.qwen.ai/v1" },
      });
    } finally {
      await m.close();
    }
  });

  it("refreshFuncs still win, and a provider with neither cannot refresh", async () => {
    const config = parseConfig(
      `providers:
  gemini:
    oauth_credentials: [{ id: g, refresh_token: r }]
  other:
    oauth_credentials: [{ id: o, refresh_token: r }]
`,
    );
    const managers = createManagers(config, {
      refreshFuncs: { gemini: async (cred) => ({ ...cred, accessToken: "from-refreshFuncs" }) },
    });
    try {
      const gemini = await managers
        .get("gemini")!
        .executeWithFailover(async (cred) => ({ result: cred.accessToken }));
      expect(gemini.result).toBe("from-refreshFuncs");
      await expect(
        managers.get("other")!.executeWithFailover(async () => ({ result: 1 })),
      ).rejects.toThrow(/token refresh not configured for credential o/);
    } finally {
      await Promise.all([...managers.values()].map((m) => m.close()));
    }
  });
});

/**
 * Each preset provider's tokens reach the upstream the way the provider wants them: the auth
 * header, the headers its OAuth logins need, Qwen's per-account API host. The preset upstreams
 * are on the internet, so `upstream` points at a local one here (its auth and headers still come
 * from the preset), except for Qwen, whose login names its own host.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  json,
  startTokenServer,
  type TokenServer,
} from "../src/providers/test-support/token-server.js";
import { call, startGateway, type TestGateway } from "./support/gateway.js";
import { type SeenRequest, startUpstream, type Upstream } from "./support/upstream.js";

const KEY = "gw-client-key-0123456789";
let upstream: Upstream;
let gw: TestGateway | undefined;
let tokens: TokenServer | undefined;

afterEach(async () => {
  await gw?.close();
  gw = undefined;
  await tokens?.close();
  tokens = undefined;
  await upstream.close();
});

const server = `server:\n  client_keys: ["${KEY}"]\n`;

async function one(path: string, headers: Record<string, string> = {}): Promise<SeenRequest> {
  upstream.reply({ status: 200, body: {} });
  const res = await call(`${gw?.url}${path}`, KEY, { method: "POST", body: "{}", headers });
  expect(res.status).toBe(200);
  const seen = upstream.seen.at(-1);
  if (!seen) throw new Error("the upstream saw no request");
  return seen;
}

describe("gateway presets", () => {
  it("anthropic: a Claude Code login goes as a Bearer with the oauth beta added to the client's betas; an API key as x-api-key", async () => {
    upstream = await startUpstream();
    gw = await startGateway(`${server}
providers:
  anthropic:
    upstream: ${upstream.url}
    oauth_credentials:
      - { id: claude-login, access_token: claude-oauth-token-1 }
    api_keys: ["sk-ant-key-1"]
`);
    const login = await one("/anthropic/v1/messages", {
      "anthropic-beta": "prompt-caching-2024-07-31",
    });
    expect(login.headers.authorization).toBe("Bearer claude-oauth-token-1");
    expect(login.headers["anthropic-beta"]).toBe("prompt-caching-2024-07-31,oauth-2025-04-20");
    expect(login.headers["x-api-key"]).toBeUndefined();
    const key = await one("/anthropic/v1/messages");
    expect(key.headers["x-api-key"]).toBe("sk-ant-key-1");
    expect(key.headers.authorization).toBeUndefined();
    expect(key.headers["anthropic-beta"]).toBeUndefined();
  });

  it("openai: a Codex login carries its ChatGPT account id; an API key only its Bearer", async () => {
    upstream = await startUpstream();
    gw = await startGateway(`${server}
providers:
  openai:
    upstream: ${upstream.url}
    oauth_credentials:
      - id: codex-login
        access_token: codex-token-1
        provider_data: { account_id: acct-123 }
    api_keys: ["sk-openai-1"]
`);
    const login = await one("/openai/responses");
    expect(login.path).toBe("/responses");
    expect(login.headers.authorization).toBe("Bearer codex-token-1");
    expect(login.headers["chatgpt-account-id"]).toBe("acct-123");
    const key = await one("/openai/responses");
    expect(key.headers.authorization).toBe("Bearer sk-openai-1");
    expect(key.headers["chatgpt-account-id"]).toBeUndefined();
  });

  it("gemini: an API key goes as x-goog-api-key, a Google login as a Bearer", async () => {
    upstream = await startUpstream();
    gw = await startGateway(`${server}
providers:
  gemini:
    upstream: ${upstream.url}
    oauth_credentials:
      - { id: google-login, access_token: ya29-token-1 }
    api_keys: ["AIza-key-1"]
`);
    const login = await one("/gemini/v1internal:generateContent");
    expect(login.path).toBe("/v1internal:generateContent");
    expect(login.headers.authorization).toBe("Bearer ya29-token-1");
    const key = await one("/gemini/v1beta/models/gemini-2.5-flash:generateContent");
    expect(key.headers["x-goog-api-key"]).toBe("AIza-key-1");
    expect(key.headers.authorization).toBeUndefined();
  });

  it("qwen: each login goes to the API host its token answer named (resource_url)", async () => {
    upstream = await startUpstream();
    gw = await startGateway(`${server}
providers:
  qwen:
    oauth_credentials:
      - id: qwen-login
        access_token: qwen-token-1
        provider_data: { resource_url: "${upstream.url}" }
`);
    const seen = await one("/qwen/chat/completions");
    expect(seen.path).toBe("/v1/chat/completions");
    expect(seen.headers.authorization).toBe("Bearer qwen-token-1");
  });

  it("any other provider: its upstream, its auth template and its extra headers, auth last", async () => {
    upstream = await startUpstream();
    gw = await startGateway(`${server}
providers:
  azure:
    upstream: ${upstream.url}/openai
    auth: { header: api-key, template: "{token}" }
    headers: { api-version: "2024-10-21", api-key: "not-this" }
    api_keys: ["azure-key-1"]
`);
    const seen = await one("/azure/deployments/d/chat/completions");
    expect(seen.path).toBe("/openai/deployments/d/chat/completions");
    expect(seen.headers["api-key"]).toBe("azure-key-1");
    expect(seen.headers["api-version"]).toBe("2024-10-21");
  });

  it("refreshes an expired login through the provider's token endpoint before forwarding", async () => {
    upstream = await startUpstream();
    tokens = await startTokenServer((_req, res) =>
      json(res, 200, { access_token: "fresh-token", expires_in: 3600, refresh_token: "rt-2" }),
    );
    gw = await startGateway(`${server}
providers:
  anthropic:
    upstream: ${upstream.url}
    token_url: ${tokens.url}
    oauth_credentials:
      - { id: claude-login, access_token: stale-token, refresh_token: rt-1, expires_at: "2020-01-01T00:00:00Z" }
`);
    const seen = await one("/anthropic/v1/messages");
    expect(seen.headers.authorization).toBe("Bearer fresh-token");
    expect(tokens.received).toHaveLength(1);
    expect(gw.logs.join("\n")).not.toMatch(/fresh-token|stale-token|rt-1|rt-2/);
  });
});

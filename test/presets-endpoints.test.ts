import { afterEach, describe, expect, it } from "vitest";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import {
  CLAUDE_CODE_CLIENT_ID,
  CODEX_CLIENT_ID,
  GEMINI_CLI_CLIENT_ID,
  GEMINI_CLI_CLIENT_SECRET,
} from "../src/providers/catalog.js";
import {
  anthropicRefresh,
  geminiRefresh,
  openaiRefresh,
  type PresetOptions,
} from "../src/providers/presets.js";
import {
  json,
  startTokenServer,
  type TokenServer,
} from "../src/providers/test-support/token-server.js";
import type { RefreshFunc } from "../src/types.js";

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

/** One refresh through a manager, as a request would cause it; returns the refreshed credential. */
async function refreshThrough(preset: (o?: PresetOptions) => RefreshFunc, tokenUrl: string) {
  const m = new OAuthKeyManager(
    "p",
    [{ id: "c", accessToken: "", refreshToken: "rt-old" }],
    preset({
      tokenUrl,
    }),
  );
  try {
    await m.executeWithFailover(async () => ({ result: 1 }));
    return m.getCredentials()[0]!;
  } finally {
    await m.close();
  }
}

/** An unsigned JWT carrying `payload`, as an id_token arrives. */
function jwt(payload: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "none" })}.${part(payload)}.sig`;
}

describe("presets against endpoints shaped like their providers", () => {
  it("gemini: a form body with Gemini CLI's public client; Google's answer without refresh_token keeps the old one", async () => {
    const e = await tokenEndpoint({
      access_token: "ya29.fresh",
      expires_in: 3599,
      token_type: "Bearer",
    });
    const cred = await refreshThrough(geminiRefresh, e.url);
    expect(e.received[0]!.headers["content-type"]).toMatch(/^application\/x-www-form-urlencoded/);
    const form = new URLSearchParams(e.received[0]!.body);
    expect(Object.fromEntries(form)).toEqual({
      grant_type: "refresh_token",
      refresh_token: "rt-old",
      client_id: GEMINI_CLI_CLIENT_ID,
      client_secret: GEMINI_CLI_CLIENT_SECRET,
    });
    expect(cred).toMatchObject({ accessToken: "ya29.fresh", refreshToken: "rt-old" });
    expect(cred.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 3_500_000);
  });

  it("anthropic: a JSON body with Claude Code's client; a rotated refresh token replaces the old one", async () => {
    const e = await tokenEndpoint({
      access_token: "sk-ant-oat-fresh",
      refresh_token: "sk-ant-ort-new",
      expires_in: "28800",
      scope: "user:inference user:profile",
    });
    const cred = await refreshThrough(anthropicRefresh, e.url);
    expect(e.received[0]!.headers["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(e.received[0]!.body)).toMatchObject({
      grant_type: "refresh_token",
      refresh_token: "rt-old",
      client_id: CLAUDE_CODE_CLIENT_ID,
    });
    expect(cred).toMatchObject({
      accessToken: "sk-ant-oat-fresh",
      refreshToken: "sk-ant-ort-new",
      scopes: ["user:inference", "user:profile"],
    });
  });

  it("openai: a JSON body with Codex's client; the account id from the id_token, which is not kept", async () => {
    const idToken = jwt({
      "https://api.openai.com/auth": { chatgpt_account_id: "acct-123" },
    });
    const e = await tokenEndpoint({
      access_token: "codex-fresh",
      refresh_token: "codex-rt-new",
      id_token: idToken,
      expires_in: 3600,
    });
    const cred = await refreshThrough(openaiRefresh, e.url);
    expect(JSON.parse(e.received[0]!.body)).toMatchObject({
      grant_type: "refresh_token",
      refresh_token: "rt-old",
      client_id: CODEX_CLIENT_ID,
    });
    expect(cred.providerData).toEqual({ accountId: "acct-123" });
    expect(JSON.stringify(cred)).not.toContain(idToken);
    expect(cred.refreshToken).toBe("codex-rt-new");
  });
});

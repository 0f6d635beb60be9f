import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
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
import type { RefreshFunc } from "../src/types.js";
import { closeServer } from "./support/close-server.js";

interface Seen {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A token endpoint shaped like a provider's: answers every refresh with `answer`. */
async function endpoint(answer: Record<string, unknown>) {
  const seen: Seen[] = [];
  const server: Server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    seen.push({ headers: req.headers, body });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(answer));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/token`, seen };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(closeServer));
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
    const e = await endpoint({
      access_token: "ya29.fresh",
      expires_in: 3599,
      token_type: "Bearer",
    });
    const cred = await refreshThrough(geminiRefresh, e.url);
    expect(e.seen[0]!.headers["content-type"]).toMatch(/^application\/x-www-form-urlencoded/);
    const form = new URLSearchParams(e.seen[0]!.body);
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
    const e = await endpoint({
      access_token: "sk-ant-oat-fresh",
      refresh_token: "sk-ant-ort-new",
      expires_in: "28800",
      scope: "user:inference user:profile",
    });
    const cred = await refreshThrough(anthropicRefresh, e.url);
    expect(e.seen[0]!.headers["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(e.seen[0]!.body)).toMatchObject({
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
    const e = await endpoint({
      access_token: "codex-fresh",
      refresh_token: "codex-rt-new",
      id_token: idToken,
      expires_in: 3600,
    });
    const cred = await refreshThrough(openaiRefresh, e.url);
    expect(JSON.parse(e.seen[0]!.body)).toMatchObject({
      grant_type: "refresh_token",
      refresh_token: "rt-old",
      client_id: CODEX_CLIENT_ID,
    });
    expect(cred.providerData).toEqual({ accountId: "acct-123" });
    expect(JSON.stringify(cred)).not.toContain(idToken);
    expect(cred.refreshToken).toBe("codex-rt-new");
  });
});

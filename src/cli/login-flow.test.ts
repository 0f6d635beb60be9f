import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { closeServer } from "../../test/support/close-server.js";
import { parseConfig } from "../config/parse.js";
import type { ProviderConfig } from "../config/types.js";
import { CLAUDE_CODE_CLIENT_ID, QWEN_CODE_CLIENT_ID } from "../providers/catalog.js";
import { LOGIN_CATALOG } from "../providers/login-catalog.js";
import { LoginError, loginSettings, signIn } from "./login-flow.js";

function provider(name: string, yaml: string): ProviderConfig {
  const config = parseConfig(`store: { type: memory }\nproviders:\n  ${name}:\n${yaml}`, {});
  return config.providers[name] as ProviderConfig;
}

describe("loginSettings", () => {
  it("takes the preset's flow, client and scopes; the configuration overrides each", () => {
    const qwen = loginSettings("qwen", provider("qwen", "    model: m\n"));
    expect(qwen).toMatchObject({
      deviceAuthorizationUrl: LOGIN_CATALOG.qwen.deviceAuthorizationUrl,
      authorizationUrl: undefined,
      tokenUrl: "https://chat.qwen.ai/api/v1/oauth2/token",
      clientId: QWEN_CODE_CLIENT_ID,
      devicePkce: true,
      bodyFormat: "form",
    });
    const local = loginSettings(
      "qwen",
      provider(
        "qwen",
        "    token_url: http://127.0.0.1:1/token\n    login: { authorization_url: http://127.0.0.1:1/auth, client_id: mine }\n",
      ),
    );
    // An authorization endpoint of its own replaces the preset's device flow.
    expect(local).toMatchObject({
      authorizationUrl: "http://127.0.0.1:1/auth",
      deviceAuthorizationUrl: undefined,
      tokenUrl: "http://127.0.0.1:1/token",
      clientId: "mine",
    });
  });

  it("never sends a preset's client secret with another client", () => {
    const own = loginSettings("gemini", provider("gemini", "    login: { client_id: mine }\n"));
    expect(own.clientSecret).toBeUndefined();
    const preset = loginSettings("gemini", provider("gemini", "    model: m\n"));
    expect(preset.clientSecret).toBe(LOGIN_CATALOG.gemini.clientSecret);
    expect(preset.authorizationParams).toEqual({ access_type: "offline" });
  });

  it("names what a provider without a preset is missing", () => {
    expect(() => loginSettings("internal", provider("internal", "    model: m\n"))).toThrow(
      new LoginError(
        "provider internal has no sign-in endpoints: add providers.internal.login.authorization_url (or device_authorization_url) and client_id",
      ),
    );
    expect(() =>
      loginSettings(
        "internal",
        provider("internal", "    login: { authorization_url: https://a.test/auth }\n"),
      ),
    ).toThrow("provider internal has no token endpoint: add providers.internal.token_url");
  });
});

describe("signIn with a JSON token endpoint (Claude's)", () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
  });

  it("sends the code, verifier and state as JSON and returns the answer", async () => {
    const bodies: Record<string, string>[] = [];
    const server = createServer(async (req, res) => {
      let data = "";
      for await (const chunk of req) data += chunk;
      expect(req.headers["content-type"]).toBe("application/json");
      bodies.push(JSON.parse(data) as Record<string, string>);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          access_token: "at-claude",
          refresh_token: "rt-claude",
          token_type: "Bearer",
          expires_in: 28_800,
          account: { uuid: "acct-uuid" },
        }),
      );
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    close = () => closeServer(server);
    const tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/oauth/token`;
    const settings = loginSettings(
      "anthropic",
      provider(
        "anthropic",
        `    token_url: ${tokenUrl}\n    login: { redirect_uri: "http://127.0.0.1:0/callback" }\n`,
      ),
    );
    let shown: string[] = [];
    const answer = signIn(
      settings,
      (lines) => {
        shown = lines;
        // The user approves: the provider redirects the browser to the loopback server.
        const url = new URL(lines[1] as string);
        const back = new URL(url.searchParams.get("redirect_uri") as string);
        back.searchParams.set("code", "the-code");
        back.searchParams.set("state", url.searchParams.get("state") as string);
        void fetch(back);
      },
      undefined,
      AbortSignal.timeout(20_000),
    );
    await expect(answer).resolves.toMatchObject({
      access_token: "at-claude",
      refresh_token: "rt-claude",
    });
    const url = new URL(shown[1] as string);
    expect(url.origin + url.pathname).toBe("https://claude.ai/oauth/authorize");
    expect(url.searchParams.get("code")).toBe("true");
    expect(url.searchParams.get("client_id")).toBe(CLAUDE_CODE_CLIENT_ID);
    expect(url.searchParams.get("scope")).toBe("org:create_api_key user:profile user:inference");
    expect(bodies).toEqual([
      expect.objectContaining({
        grant_type: "authorization_code",
        code: "the-code",
        client_id: CLAUDE_CODE_CLIENT_ID,
        state: url.searchParams.get("state"),
        redirect_uri: url.searchParams.get("redirect_uri"),
        code_verifier: expect.stringMatching(/^[\w-]{43,128}$/),
      }),
    ]);
  });
});

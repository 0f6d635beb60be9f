import { describe, expect, it } from "vitest";
import { parseConfig } from "../config/parse.js";
import { ConfigError } from "../errors.js";
import type { OAuthCredentialSet } from "../types.js";
import { ProviderRoute } from "./route.js";

function route(name: string, body: string): ProviderRoute {
  const config = parseConfig(`providers:\n  ${name}:\n${body}`, {});
  const provider = config.providers[name];
  if (!provider) throw new Error("no provider");
  return new ProviderRoute(name, provider);
}

const login = (extra: Partial<OAuthCredentialSet> = {}): OAuthCredentialSet => ({
  id: "login",
  accessToken: "t",
  ...extra,
});
const key: OAuthCredentialSet = { id: "key-1", accessToken: "k" };

describe("ProviderRoute presets", () => {
  it("sends each kind of credential to the API it is valid for", () => {
    const cases: [string, string, string][] = [
      [
        "gemini",
        "https://cloudcode-pa.googleapis.com",
        "https://generativelanguage.googleapis.com",
      ],
      [
        "qwen",
        "https://dashscope.aliyuncs.com/compatible-mode/v1",
        "https://dashscope.aliyuncs.com/compatible-mode/v1",
      ],
      ["anthropic", "https://api.anthropic.com", "https://api.anthropic.com"],
      ["openai", "https://chatgpt.com/backend-api/codex", "https://api.openai.com/v1"],
    ];
    for (const [name, oauth, apiKey] of cases) {
      const r = route(
        name,
        `    oauth_credentials: [{ id: login, access_token: t }]\n    api_keys: [k]\n`,
      );
      const a = r.target(login());
      const b = r.target(key);
      expect(`${a.origin}${a.basePath}`).toBe(oauth);
      expect(`${b.origin}${b.basePath}`).toBe(apiKey);
    }
  });

  it("takes a Qwen login's resource_url as its upstream, normalised as Qwen Code does", () => {
    const r = route("qwen", `    oauth_credentials: [{ id: login, access_token: t }]\n`);
    const t = r.target(login({ providerData: { resourceUrl: "portal.qwen.ai" } }));
    expect(`${t.origin}${t.basePath}`).toBe("https://portal.qwen.ai/v1");
  });

  it("a configured upstream and auth win over the preset for every credential", () => {
    const r = route(
      "qwen",
      `    upstream: https://proxy.example/v1\n    auth: x-api-key\n    oauth_credentials: [{ id: login, access_token: t }]\n`,
    );
    const t = r.target(login({ providerData: { resourceUrl: "portal.qwen.ai" } }));
    expect(`${t.origin}${t.basePath}`).toBe("https://proxy.example/v1");
    const headers: Record<string, string | string[]> = {};
    r.present(login(), headers);
    expect(headers).toEqual({ "x-api-key": "t" });
  });

  it("a provider without a preset needs an upstream", () => {
    expect(() => route("custom", `    api_keys: [k]\n`)).toThrow(ConfigError);
  });

  it("a token that cannot go in a header is a plain Error, so the pool fails over", () => {
    const r = route("openai", `    api_keys: [k]\n`);
    expect(() => r.present({ id: "key-1", accessToken: "a\r\nb" }, {})).toThrow(
      expect.objectContaining({ name: "Error" }),
    );
    // Refused every time, also after the same credential presented a good token.
    r.present({ id: "key-1", accessToken: "good" }, {});
    expect(() => r.present({ id: "key-1", accessToken: "a\r\nb" }, {})).toThrow(
      "the pooled token cannot be sent",
    );
  });

  it("checks a token once per credential object, and presents a new one at once", () => {
    const r = route(
      "custom",
      `    upstream: https://api.example\n    auth: { header: x-token, template: "Token {token}" }\n    api_keys: [k]\n`,
    );
    const sent = (cred: OAuthCredentialSet) => {
      const headers: Record<string, string | string[]> = {};
      r.present(cred, headers);
      return headers["x-token"];
    };
    // The pool hands out frozen credentials, a new one whenever a token changes.
    let reads = 0;
    const first = Object.freeze({
      id: "key-1",
      get accessToken() {
        reads++;
        return "first";
      },
    });
    expect(sent(first)).toBe("Token first");
    expect(sent(first)).toBe("Token first");
    expect(reads).toBe(1);
    expect(sent(Object.freeze({ id: "key-1", accessToken: "second" }))).toBe("Token second");
    // A caller's own object may change: it is read every time.
    const mutable = { id: "key-2", accessToken: "third" };
    expect(sent(mutable)).toBe("Token third");
    mutable.accessToken = "fourth";
    expect(sent(mutable)).toBe("Token fourth");
  });
});

import { describe, expect, it } from "vitest";
import {
  chatgptAccountId,
  isPresetProvider,
  openaiIsPermanent,
  openaiProviderData,
  PROVIDER_CATALOG,
  qwenBaseUrl,
  qwenIsPermanent,
  qwenProviderData,
} from "./catalog.js";
import { jwtClaims, jwtExpiry } from "./jwt.js";

function jwt(payload: unknown): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "RS256" })}.${part(payload)}.c2ln`;
}

describe("the provider catalog", () => {
  it("sends each provider's refresh grant the way its CLI does", () => {
    expect(PROVIDER_CATALOG.gemini.options).toEqual({
      tokenUrl: "https://oauth2.googleapis.com/token",
      bodyFormat: "form",
      clientAuth: "body",
    });
    expect(PROVIDER_CATALOG.qwen.options).toEqual({
      tokenUrl: "https://chat.qwen.ai/api/v1/oauth2/token",
      bodyFormat: "form",
      clientAuth: "body",
    });
    expect(PROVIDER_CATALOG.anthropic.options).toMatchObject({
      bodyFormat: "json",
      clientAuth: "body",
    });
    expect(PROVIDER_CATALOG.openai.options).toEqual({
      tokenUrl: "https://auth.openai.com/oauth/token",
      bodyFormat: "json",
      clientAuth: "body",
    });
  });

  it("gives the public client as a default, so a credential's own client still wins", () => {
    for (const entry of Object.values(PROVIDER_CATALOG)) {
      expect(entry.options).not.toHaveProperty("clientId");
      expect(entry.options).not.toHaveProperty("clientSecret");
      expect(entry.hooks.defaultClientId).toMatch(/\S/);
    }
    // Google refuses the refresh grant of an installed app without its (public) secret.
    expect(PROVIDER_CATALOG.gemini.hooks.defaultClientSecret).toMatch(/^GOCSPX-/);
    expect(PROVIDER_CATALOG.qwen.hooks.defaultClientSecret).toBeUndefined();
    expect(PROVIDER_CATALOG.anthropic.hooks.defaultClientSecret).toBeUndefined();
    expect(PROVIDER_CATALOG.openai.hooks.defaultClientSecret).toBeUndefined();
  });

  it("is frozen", () => {
    expect(Object.isFrozen(PROVIDER_CATALOG)).toBe(true);
    expect(Object.isFrozen(PROVIDER_CATALOG.gemini.options)).toBe(true);
    expect(Object.isFrozen(PROVIDER_CATALOG.openai.hooks)).toBe(true);
  });

  it("knows the four preset names and nothing else", () => {
    for (const name of ["gemini", "qwen", "anthropic", "openai"]) {
      expect(isPresetProvider(name)).toBe(true);
    }
    for (const name of ["Gemini", "claude", "codex", "toString", "__proto__", "", 1, undefined]) {
      expect(isPresetProvider(name)).toBe(false);
    }
  });
});

describe("Qwen's resource_url", () => {
  it.each([
    ["portal.qwen.ai", "https://portal.qwen.ai/v1"],
    ["portal.qwen.ai/", "https://portal.qwen.ai/v1"],
    [
      "https://dashscope.aliyuncs.com/compatible-mode",
      "https://dashscope.aliyuncs.com/compatible-mode/v1",
    ],
    ["https://portal.qwen.ai/v1", "https://portal.qwen.ai/v1"],
    ["http://127.0.0.1:8080", "http://127.0.0.1:8080/v1"],
  ])("%s is the API base URL %s", (raw, url) => {
    expect(qwenBaseUrl(raw)).toBe(url);
    expect(qwenProviderData({ resource_url: raw })).toEqual({ resourceUrl: url });
  });

  it.each([
    ["absent", undefined],
    ["empty", ""],
    ["a number", 42],
    ["an object", { host: "x" }],
    ["not a URL", "not a host name"],
    ["another scheme", "ftp://portal.qwen.ai"],
    ["with credentials", "https://user:pw@portal.qwen.ai"],
  ])("is ignored when %s", (_, raw) => {
    expect(qwenProviderData({ resource_url: raw })).toBeUndefined();
  });
});

describe("Qwen's dead refresh token", () => {
  it("is invalid_request on a 400 or 401", () => {
    expect(qwenIsPermanent({ oauthError: "invalid_request", status: 400 })).toBe(true);
    expect(qwenIsPermanent({ oauthError: "invalid_request", status: 401 })).toBe(true);
  });

  it("is not any other answer", () => {
    expect(qwenIsPermanent({ oauthError: "invalid_request", status: 500 })).toBe(false);
    expect(qwenIsPermanent({ oauthError: "slow_down", status: 400 })).toBe(false);
    expect(qwenIsPermanent({ oauthError: undefined, status: 400 })).toBe(false);
    expect(qwenIsPermanent({ oauthError: undefined, status: 429 })).toBe(false);
  });
});

describe("OpenAI's id_token", () => {
  const idToken = jwt({
    sub: "auth0|x",
    "https://api.openai.com/auth": { chatgpt_account_id: "acct-123", chatgpt_plan_type: "pro" },
  });

  it("gives the ChatGPT account id, and nothing of the token itself", () => {
    const data = openaiProviderData({ access_token: "a", id_token: idToken });
    expect(data).toEqual({ accountId: "acct-123" });
    expect(JSON.stringify(data)).not.toContain(idToken);
  });

  it.each([
    ["no id_token", undefined],
    ["an id_token that is not a JWT", "not.a-jwt"],
    ["a JWT without the auth claim", jwt({ sub: "x" })],
    [
      "an account id that is not a string",
      jwt({ "https://api.openai.com/auth": { chatgpt_account_id: 7 } }),
    ],
    ["a payload that is not JSON", "aGVhZGVy.bm90IGpzb24.c2ln"],
  ])("gives nothing for %s", (_, token) => {
    expect(openaiProviderData({ id_token: token })).toBeUndefined();
    expect(chatgptAccountId(token)).toBeUndefined();
  });
});

describe("OpenAI's dead refresh token", () => {
  it.each(["refresh_token_expired", "refresh_token_reused", "refresh_token_invalidated"])(
    "is %s",
    (code) => {
      expect(openaiIsPermanent({ oauthError: code, status: 400 })).toBe(true);
    },
  );

  it("is any 401", () => {
    expect(openaiIsPermanent({ oauthError: undefined, status: 401 })).toBe(true);
  });

  it("is not a 5xx, a 429 or another 400", () => {
    expect(openaiIsPermanent({ oauthError: undefined, status: 503 })).toBe(false);
    expect(openaiIsPermanent({ oauthError: undefined, status: 429 })).toBe(false);
    expect(openaiIsPermanent({ oauthError: "invalid_request", status: 400 })).toBe(false);
  });
});

describe("JWT claims", () => {
  it("reads the payload and the expiry in seconds", () => {
    const token = jwt({ sub: "s", exp: 1_767_229_200 });
    expect(jwtClaims(token)).toEqual({ sub: "s", exp: 1_767_229_200 });
    expect(jwtExpiry(token)).toEqual(new Date(1_767_229_200_000));
  });

  it.each([
    ["two parts", "a.b"],
    ["an empty part", "a..c"],
    ["a payload that is an array", jwt([1, 2])],
    ["an expiry that is a string", jwt({ exp: "1767229200" })],
    ["a negative expiry", jwt({ exp: -1 })],
    ["not a string", 12],
  ])("gives nothing for %s", (_, token) => {
    expect(jwtExpiry(token)).toBeUndefined();
  });
});

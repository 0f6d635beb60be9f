import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigError } from "../errors.js";
import {
  defaultCredentialsPath,
  IMPORT_KINDS,
  type ImportKind,
  importCredentials,
  MAX_CREDENTIALS_FILE_BYTES,
} from "./import.js";

const FIXTURES = join(import.meta.dirname, "../../test/fixtures/providers");
const fixture = (name: string) => join(FIXTURES, name);
const GOOD: Record<ImportKind, string> = {
  "gemini-cli": fixture("gemini-cli.oauth_creds.json"),
  "qwen-code": fixture("qwen-code.oauth_creds.json"),
  "claude-code": fixture("claude-code.credentials.json"),
  codex: fixture("codex.auth.json"),
};
const goodJson = (kind: ImportKind) => JSON.parse(readFileSync(GOOD[kind], "utf8"));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "oauthmanager-import-"));
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}

/** The error, checked to carry no canary token in any form a log could show. */
async function rejection(kind: ImportKind, file: string): Promise<ConfigError> {
  const err = await importCredentials(kind, file).then(
    () => expect.unreachable("the import should have failed"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  const shown = `${String(err)}\n${inspect(err, { depth: 5 })}\n${JSON.stringify(err)}`;
  expect(shown).not.toMatch(/CANARY/);
  expect((err as ConfigError).message).toContain(file);
  return err as ConfigError;
}

describe("importing each CLI's login", () => {
  it("reads a Gemini CLI login: epoch-millisecond expiry, space-separated scopes", async () => {
    const [cred, ...rest] = await importCredentials("gemini-cli", GOOD["gemini-cli"]);
    expect(rest).toEqual([]);
    expect(cred).toEqual({
      id: expect.stringMatching(/^gemini-cli:[0-9a-f]{12}$/),
      accessToken: "ya29.CANARY-GEMINI-ACCESS-7f3a",
      refreshToken: "1//0gCANARY-GEMINI-REFRESH-91c2",
      expiresAt: new Date("2026-01-01T01:00:00.000Z"),
      scopes: [
        "https://www.googleapis.com/auth/cloud-platform",
        "https://www.googleapis.com/auth/userinfo.email",
        "openid",
        "https://www.googleapis.com/auth/userinfo.profile",
      ],
    });
  });

  it("reads a Qwen Code login: epoch-millisecond expiry, resource_url as the API base URL", async () => {
    const [cred] = await importCredentials("qwen-code", GOOD["qwen-code"]);
    expect(cred).toEqual({
      id: expect.stringMatching(/^qwen-code:[0-9a-f]{12}$/),
      accessToken: "CANARY-QWEN-ACCESS-5d1e",
      refreshToken: "CANARY-QWEN-REFRESH-8b4f",
      expiresAt: new Date("2026-01-01T01:00:00.000Z"),
      providerData: { resourceUrl: "https://portal.qwen.ai/v1" },
    });
  });

  it("reads a Claude Code login: claudeAiOauth, epoch-millisecond expiry, scopes", async () => {
    const [cred] = await importCredentials("claude-code", GOOD["claude-code"]);
    expect(cred).toEqual({
      id: expect.stringMatching(/^claude-code:[0-9a-f]{12}$/),
      accessToken: "sk-ant-oat01-CANARY-CLAUDE-ACCESS-2c9d",
      refreshToken: "sk-ant-ort01-CANARY-CLAUDE-REFRESH-6a0b",
      expiresAt: new Date("2026-01-01T01:00:00.000Z"),
      scopes: ["user:inference", "user:profile", "user:sessions:claude_code"],
    });
  });

  it("reads a Codex login: expiry from the access token's exp, ISO last_refresh, account id, no id_token", async () => {
    const json = goodJson("codex");
    const [cred] = await importCredentials("codex", GOOD.codex);
    expect(cred).toEqual({
      id: expect.stringMatching(/^codex:[0-9a-f]{12}$/),
      accessToken: json.tokens.access_token,
      refreshToken: "rt_CANARY-CODEX-REFRESH-0f3c",
      expiresAt: new Date("2026-01-01T01:00:00.000Z"),
      lastRefresh: new Date("2026-01-01T00:00:00.000Z"),
      providerData: { accountId: "acct-0000-1111-2222" },
    });
    expect(JSON.stringify(cred)).not.toContain(json.tokens.id_token);
  });

  it("takes the Codex account id from the id_token when account_id is absent", async () => {
    const json = goodJson("codex");
    delete json.tokens.account_id;
    const [cred] = await importCredentials("codex", write("auth.json", json));
    expect(cred?.providerData).toEqual({ accountId: "acct-0000-1111-2222" });
  });

  it("follows a symbolic link", async () => {
    const link = join(dir, "link.json");
    symlinkSync(GOOD["claude-code"], link);
    const [cred] = await importCredentials("claude-code", link);
    expect(cred?.refreshToken).toBe("sk-ant-ort01-CANARY-CLAUDE-REFRESH-6a0b");
  });

  it("names credentials by account or token hash, never by a token, and stably", async () => {
    for (const kind of IMPORT_KINDS) {
      const [first] = await importCredentials(kind, GOOD[kind]);
      const [again] = await importCredentials(kind, GOOD[kind]);
      expect(first?.id).toBe(again?.id);
      expect(first?.id).not.toMatch(/CANARY|ya29|sk-ant|rt_|eyJ/);
    }
  });

  it("keeps a Gemini or Codex id when the CLI has refreshed the login since", async () => {
    const gemini = goodJson("gemini-cli");
    const codex = goodJson("codex");
    const before = {
      gemini: (await importCredentials("gemini-cli", GOOD["gemini-cli"]))[0]?.id,
      codex: (await importCredentials("codex", GOOD.codex))[0]?.id,
    };
    gemini.access_token = "ya29.CANARY-NEW";
    codex.tokens.refresh_token = "rt_CANARY-ROTATED";
    expect((await importCredentials("gemini-cli", write("g.json", gemini)))[0]?.id).toBe(
      before.gemini,
    );
    expect((await importCredentials("codex", write("c.json", codex)))[0]?.id).toBe(before.codex);
  });

  it("tells two Codex users of one ChatGPT workspace apart", async () => {
    const other = goodJson("codex");
    const claims = (user: string) => ({
      sub: user,
      "https://api.openai.com/auth": {
        chatgpt_account_id: "acct-0000-1111-2222",
        chatgpt_user_id: user,
      },
    });
    const jwt = (o: unknown) => `e30.${Buffer.from(JSON.stringify(o)).toString("base64url")}.c2ln`;
    other.tokens.id_token = jwt(claims("user-OTHER"));
    const [a] = await importCredentials("codex", GOOD.codex);
    const [b] = await importCredentials("codex", write("other.json", other));
    expect(a?.id).not.toBe(b?.id);
  });

  it("accepts a Gemini login with only a refresh token: the pool refreshes it first", async () => {
    const json = goodJson("gemini-cli");
    delete json.access_token;
    json.expiry_date = null;
    const [cred] = await importCredentials("gemini-cli", write("g.json", json));
    expect(cred?.accessToken).toBe("");
    expect(cred?.expiresAt).toBeUndefined();
  });
});

// A fixture as parsed: free-form JSON, mutated per case.
type Mutation = (json: ReturnType<typeof goodJson>) => unknown;

const BROKEN: [ImportKind, string, Mutation | string, RegExp][] = [
  ["gemini-cli", "no tokens at all", (j) => ({ scope: j.scope }), /access_token.*refresh_token/],
  [
    "gemini-cli",
    "a number for the access token",
    (j) => ({ ...j, access_token: 7 }),
    /`access_token` must be a string, got a number/,
  ],
  [
    "gemini-cli",
    "an ISO string for expiry_date",
    (j) => ({ ...j, expiry_date: "2026-01-01T00:00:00Z" }),
    /`expiry_date` must be a positive number of epoch milliseconds, got a string/,
  ],
  [
    "gemini-cli",
    "another Google credential type",
    (j) => ({ ...j, type: "external_account_authorized_user" }),
    /another kind of Google credential/,
  ],
  [
    "gemini-cli",
    "the wrong-types fixture",
    fixture("gemini-cli.wrong-types.oauth_creds.json"),
    /`access_token` must be a string, got a number/,
  ],
  ["gemini-cli", "an array", () => [], /must be an object, got an array/],
  [
    "qwen-code",
    "no refresh_token",
    (j) => ({ ...j, refresh_token: undefined }),
    /`refresh_token` is missing/,
  ],
  [
    "qwen-code",
    "no expiry_date",
    fixture("qwen-code.missing-expiry.oauth_creds.json"),
    /`expiry_date` is missing/,
  ],
  [
    "qwen-code",
    "a negative expiry",
    (j) => ({ ...j, expiry_date: -5 }),
    /`expiry_date` must be a positive number/,
  ],
  [
    "qwen-code",
    "a resource_url that is no URL",
    (j) => ({ ...j, resource_url: "ftp://x" }),
    /`resource_url`/,
  ],
  [
    "qwen-code",
    "an empty access token",
    (j) => ({ ...j, access_token: "" }),
    /`access_token` must be a non-empty string, got an empty string/,
  ],
  [
    "claude-code",
    "no claudeAiOauth",
    fixture("claude-code.no-login.credentials.json"),
    /no `claudeAiOauth` login/,
  ],
  [
    "claude-code",
    "claudeAiOauth as a string",
    (j) => ({ claudeAiOauth: JSON.stringify(j.claudeAiOauth) }),
    /`claudeAiOauth` must be an object, got a string/,
  ],
  [
    "claude-code",
    "expiresAt in ISO",
    (j) => ({ claudeAiOauth: { ...j.claudeAiOauth, expiresAt: "2026-01-01T01:00:00Z" } }),
    /`claudeAiOauth.expiresAt` must be a positive number/,
  ],
  [
    "claude-code",
    "scopes as a string",
    (j) => ({ claudeAiOauth: { ...j.claudeAiOauth, scopes: "user:inference" } }),
    /`claudeAiOauth.scopes` must be an array of strings/,
  ],
  [
    "claude-code",
    "no tokens",
    () => ({ claudeAiOauth: { expiresAt: 1 } }),
    /accessToken.*refreshToken.*missing/,
  ],
  [
    "codex",
    "an API key only",
    fixture("codex.api-key-only.auth.json"),
    /API key, not a ChatGPT login/,
  ],
  ["codex", "no tokens", () => ({ OPENAI_API_KEY: null }), /no `tokens`/],
  [
    "codex",
    "no refresh token",
    (j) => ({ ...j, tokens: { ...j.tokens, refresh_token: null } }),
    /`tokens.refresh_token` is missing/,
  ],
  [
    "codex",
    "last_refresh in epoch seconds",
    (j) => ({ ...j, last_refresh: 1767225600 }),
    /`last_refresh` must be an ISO 8601 date-time string, got a number/,
  ],
  [
    "codex",
    "a garbled last_refresh",
    (j) => ({ ...j, last_refresh: "2026-13-45T99:00:00Z" }),
    /`last_refresh` must be an ISO 8601/,
  ],
];

describe("a file not in the CLI's format", () => {
  it.each(BROKEN)("%s: %s is refused with the field named", async (kind, _, broken, message) => {
    const file =
      typeof broken === "string" ? broken : write(`${kind}.json`, broken(goodJson(kind)));
    const err = await rejection(kind, file);
    expect(err.message).toMatch(message);
  });

  it.each(IMPORT_KINDS)("%s: text that is not JSON is refused without quoting it", async (kind) => {
    const err = await rejection(kind, fixture("broken.not-json.txt"));
    expect(err.message).toMatch(/not valid JSON$/);
    expect(err.cause).toBeUndefined();
  });
});

describe("a path that is no login file", () => {
  it("is refused when missing", async () => {
    const err = await rejection("codex", join(dir, "absent.json"));
    expect(err.message).toMatch(/no such file/);
  });

  it("is refused when a directory", async () => {
    const sub = join(dir, "sub");
    mkdirSync(sub);
    expect((await rejection("qwen-code", sub)).message).toMatch(/it is a directory/);
  });

  it("is refused unread when over 1 MiB", async () => {
    const json = goodJson("claude-code");
    json.padding = "x".repeat(MAX_CREDENTIALS_FILE_BYTES);
    const err = await rejection("claude-code", write("big.json", json));
    expect(err.message).toMatch(/larger than 1 MiB \(\d+ bytes\)/);
  });

  it("rejects a wrong kind or path at once", async () => {
    await expect(importCredentials("claude" as ImportKind)).rejects.toThrow(TypeError);
    await expect(importCredentials("codex", "")).rejects.toThrow(
      /Expected `path` to be a non-empty string, got an empty string/,
    );
    expect(() => defaultCredentialsPath("gemini" as ImportKind)).toThrow(
      /Expected `kind` to be one of "gemini-cli", "qwen-code", "claude-code", "codex", got a string/,
    );
  });
});

describe("the default locations", () => {
  beforeEach(() => {
    for (const name of ["GEMINI_CLI_HOME", "QWEN_HOME", "CLAUDE_CONFIG_DIR", "CODEX_HOME"]) {
      vi.stubEnv(name, "");
    }
    vi.stubEnv("HOME", "/home/someone");
    vi.stubEnv("USERPROFILE", "/home/someone");
  });

  it("are under $HOME", () => {
    expect(defaultCredentialsPath("gemini-cli")).toBe("/home/someone/.gemini/oauth_creds.json");
    expect(defaultCredentialsPath("qwen-code")).toBe("/home/someone/.qwen/oauth_creds.json");
    expect(defaultCredentialsPath("claude-code")).toBe("/home/someone/.claude/.credentials.json");
    expect(defaultCredentialsPath("codex")).toBe("/home/someone/.codex/auth.json");
  });

  it("follow each CLI's own directory variable", () => {
    vi.stubEnv("GEMINI_CLI_HOME", "/srv/g");
    vi.stubEnv("QWEN_HOME", "/srv/q");
    vi.stubEnv("CLAUDE_CONFIG_DIR", "/srv/c");
    vi.stubEnv("CODEX_HOME", "/srv/x");
    expect(defaultCredentialsPath("gemini-cli")).toBe("/srv/g/.gemini/oauth_creds.json");
    expect(defaultCredentialsPath("qwen-code")).toBe("/srv/q/oauth_creds.json");
    expect(defaultCredentialsPath("claude-code")).toBe("/srv/c/.credentials.json");
    expect(defaultCredentialsPath("codex")).toBe("/srv/x/auth.json");
  });

  it("is where importCredentials looks without a path", async () => {
    vi.stubEnv("CODEX_HOME", dir);
    writeFileSync(join(dir, "auth.json"), readFileSync(GOOD.codex));
    const [cred] = await importCredentials("codex");
    expect(cred?.refreshToken).toBe("rt_CANARY-CODEX-REFRESH-0f3c");
  });
});

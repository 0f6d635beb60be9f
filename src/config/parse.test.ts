// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} placeholders are literal text here
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, type ConfigIssue } from "../errors.js";
import {
  adaptiveRefreshStrategy,
  conservativeRefreshStrategy,
  defaultRefreshStrategy,
} from "../refresh/strategy.js";
import { loadConfig, parseConfig } from "./index.js";

const FIXTURES = new URL("../../test/fixtures/config/", import.meta.url);
const fixture = (name: string) => readFile(new URL(name, FIXTURES), "utf8");

/** The issues a config is rejected with; fails the test when it is accepted. */
function issuesOf(text: string, env: Record<string, string | undefined> = {}): ConfigIssue[] {
  try {
    parseConfig(text, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe("INVALID_CONFIG");
    return [...(err as ConfigError).issues];
  }
  throw new Error("expected the configuration to be rejected");
}

/** A valid AES-256 key: 32 bytes as 64 hex digits. */
const STORE_KEY = "0123456789abcdef".repeat(4);

/** A provider `gemini` with the given credential lines (already indented for a list item). */
const gemini = (body: string) => `providers:\n  gemini:\n${body}`;

describe("parseConfig: valid configurations", () => {
  it("parses the two-credential example as is", async () => {
    const config = parseConfig(await fixture("two-credentials.yaml"), {});
    expect(Object.keys(config.providers)).toEqual(["gemini"]);
    const p = config.providers.gemini!;
    expect(p.name).toBe("gemini");
    expect(p.model).toBe("gemini-2.0-flash-exp");
    expect(p.apiKeys).toEqual([]);
    expect(p.oauthCredentials).toEqual([
      {
        id: "team-account",
        clientId: "client-id-1",
        clientSecret: "client-secret-1",
        accessToken: "access-token-1",
        refreshToken: "refresh-token-1",
        expiresAt: new Date("2025-11-16T10:00:00Z"),
        scopes: ["https://www.googleapis.com/auth/cloud-platform"],
      },
      {
        id: "personal-account",
        clientId: "client-id-2",
        clientSecret: "client-secret-2",
        accessToken: "access-token-2",
        refreshToken: "refresh-token-2",
        expiresAt: new Date("2025-11-16T11:00:00Z"),
        scopes: ["https://www.googleapis.com/auth/cloud-platform"],
      },
    ]);
    // Nothing configured means the manager's defaults, not values invented here.
    expect(p.refreshStrategy).toBeUndefined();
    expect(p.rotationPolicy).toBeUndefined();
    expect(p.monitoring).toBeUndefined();
    expect(config.store).toBeUndefined();
    expect(config.server).toBeUndefined();
  });

  it("parses every field, camelCased, in milliseconds and Dates", async () => {
    const whsec = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
    const config = parseConfig(await fixture("full.yaml"), {
      GATEWAY_KEY: "gw-key",
      ADMIN_KEY: "admin-key",
      STORE_KEY: STORE_KEY,
      WEBHOOK_SECRET: whsec,
      GEMINI_SECRET_1: "gem-secret",
      GEMINI_REFRESH_1: "gem-refresh-1",
      GEMINI_REFRESH_2: "gem-refresh-2",
      ANTHROPIC_KEY_1: "ak-1",
      ANTHROPIC_KEY_2: "ak-2",
      INTERNAL_TOKEN: "int-token",
    });
    expect(config.server).toEqual({
      clientKeys: ["gw-key"],
      adminKey: "admin-key",
      host: "127.0.0.1",
      port: 8787,
    });
    expect(config.store).toEqual({
      type: "file",
      path: "/var/lib/oauthmanager/tokens.json",
      encryptionKey: STORE_KEY,
    });
    expect(Object.keys(config.providers)).toEqual(["gemini", "anthropic", "internal"]);
    const { gemini: g, anthropic: a, internal: i } = config.providers;
    expect(g).toEqual({
      name: "gemini",
      model: "gemini-2.0-flash-exp",
      upstream: "https://generativelanguage.googleapis.com",
      auth: "bearer",
      headers: { "x-goog-user-project": "my-project" },
      tokenUrl: "https://oauth2.googleapis.com/token",
      clientAuth: "body",
      bodyFormat: "form",
      selection: "weighted",
      refreshStrategy: { ...adaptiveRefreshStrategy(), bufferTime: 600_000 },
      rotationPolicy: {
        enabled: true,
        rotationInterval: 30 * 86_400_000,
        gracePeriod: 7 * 86_400_000,
        autoDecommission: false,
      },
      monitoring: {
        webhookUrl: "https://hooks.example.com/oauth",
        webhookEvents: ["refresh", "failure", "alert"],
        alertOnHighFailureRate: true,
        failureRateThreshold: 0.5,
        alertOnRefreshFailure: true,
        alertOnExpirySoon: false,
        expiryWarningTime: 12 * 3_600_000,
        alertCooldown: 1_800_000,
        webhookSecret: whsec,
        webhookTimeout: 5_000,
        allowPrivateWebhookTargets: false,
      },
      backoff: { jitter: true, maxCooldownMs: 5_400_000 },
      apiKeys: [],
      oauthCredentials: [
        {
          id: "team-account",
          clientId: "client-id-1",
          clientSecret: "gem-secret",
          accessToken: "",
          refreshToken: "gem-refresh-1",
          expiresAt: new Date("2025-11-16T10:00:00Z"),
          scopes: ["https://www.googleapis.com/auth/cloud-platform", "openid"],
          weight: 3,
        },
        { id: "personal-account", accessToken: "", refreshToken: "gem-refresh-2", weight: 1 },
      ],
    });
    expect(a).toEqual({
      name: "anthropic",
      auth: "x-api-key",
      refreshStrategy: conservativeRefreshStrategy(),
      apiKeys: ["ak-1", "ak-2"],
      oauthCredentials: [],
    });
    expect(i?.auth).toEqual({ header: "X-Token", template: "Token {token}" });
    expect(i?.clientAuth).toBe("basic");
    expect(i?.bodyFormat).toBe("json");
    expect(i?.oauthCredentials[0]?.expiresAt).toEqual(new Date("2029-12-31T22:00:00Z"));
  });

  it("merges partial rotation and monitoring sections over the defaults", () => {
    const config = parseConfig(
      gemini(`    api_keys: [k]
    rotation: { enabled: true }
    monitoring: { failure_rate_threshold: 0.1 }
`),
    );
    const p = config.providers.gemini!;
    expect(p.rotationPolicy).toEqual({
      enabled: true,
      rotationInterval: 30 * 86_400_000,
      gracePeriod: 7 * 86_400_000,
      autoDecommission: true,
    });
    expect(p.monitoring).toEqual({
      webhookEvents: ["refresh", "failure", "rotation", "expiry_warning"],
      alertOnHighFailureRate: true,
      failureRateThreshold: 0.1,
      alertOnRefreshFailure: true,
      alertOnExpirySoon: true,
      expiryWarningTime: 86_400_000,
    });
  });

  it.each([
    ["default", defaultRefreshStrategy()],
    ["adaptive", adaptiveRefreshStrategy()],
    ["conservative", conservativeRefreshStrategy()],
    [
      "{ preset: adaptive, buffer_time: 10m }",
      { ...adaptiveRefreshStrategy(), bufferTime: 600_000 },
    ],
    [
      "{ min_buffer: 0, max_buffer: 0, high_traffic_threshold: 0 }",
      { ...defaultRefreshStrategy(), minBuffer: 0, maxBuffer: 0, highTrafficThreshold: 0 },
    ],
    [
      "{ buffer_time: 2m, adaptive_buffer: true, preemptive_refresh: 'true' }",
      {
        ...defaultRefreshStrategy(),
        bufferTime: 120_000,
        adaptiveBuffer: true,
        preemptiveRefresh: true,
      },
    ],
  ])("maps refresh_strategy %s", (yaml, strategy) => {
    const config = parseConfig(gemini(`    api_keys: [k]\n    refresh_strategy: ${yaml}\n`));
    expect(config.providers.gemini?.refreshStrategy).toEqual(strategy);
  });

  it("substitutes ${VAR} and ${VAR:-default} after parsing, keeping YAML special characters", () => {
    const config = parseConfig(
      gemini(`    oauth_credentials:
      - id: \${ID:-main}
        access_token: \${TOKEN}
        refresh_token: "literal $\${NOT_A_VAR}"
        weight: \${WEIGHT:-2}
        client_id: prefix-\${CLIENT}-suffix
`),
      { TOKEN: "a: b # c, [d] {e} *f &g !h", CLIENT: "x" },
    );
    expect(config.providers.gemini?.oauthCredentials[0]).toEqual({
      id: "main",
      accessToken: "a: b # c, [d] {e} *f &g !h",
      refreshToken: "literal ${NOT_A_VAR}",
      weight: 2,
      clientId: "prefix-x-suffix",
    });
  });

  it("reads a credential's provider_data into providerData", () => {
    const config = parseConfig(
      gemini(`    oauth_credentials:
      - id: a
        refresh_token: r
        provider_data:
          resource_url: portal.qwen.ai
          account_id: \${ACCOUNT}
          project_id: my-project
      - id: b
        refresh_token: r2
        provider_data: { project_id: other }
`),
      { ACCOUNT: "acct-1" },
    );
    const [a, b] = config.providers.gemini?.oauthCredentials ?? [];
    expect(a?.providerData).toStrictEqual({
      resourceUrl: "portal.qwen.ai",
      accountId: "acct-1",
      projectId: "my-project",
    });
    expect(b?.providerData).toStrictEqual({ projectId: "other" });
  });

  it("reads process.env by default", () => {
    const name = "OAUTHMANAGER_CONFIG_TEST_KEY";
    process.env[name] = "from-process-env";
    try {
      const config = parseConfig(gemini(`    api_keys: ["\${${name}}"]\n`));
      expect(config.providers.gemini?.apiKeys).toEqual(["from-process-env"]);
    } finally {
      delete process.env[name];
    }
  });

  it("accepts a Date the YAML 1.1 parser produced", () => {
    const config = parseConfig(
      `%YAML 1.1\n---\n${gemini("    oauth_credentials:\n      - { id: a, access_token: t, expires_at: 2025-11-16T10:00:00Z }\n")}`,
    );
    expect(config.providers.gemini?.oauthCredentials[0]?.expiresAt).toEqual(
      new Date("2025-11-16T10:00:00Z"),
    );
  });

  it("accepts rotation intervals beyond one timer's range, up to 10 years", () => {
    const config = parseConfig(
      gemini("    api_keys: [k]\n    rotation: { rotation_interval: 90d, grace_period: 30d }\n"),
    );
    expect(config.providers.gemini?.rotationPolicy?.rotationInterval).toBe(90 * 86_400_000);
  });

  it("allows private webhook targets when asked to", () => {
    const config = parseConfig(
      gemini(`    api_keys: [k]
    monitoring: { webhook_url: "http://127.0.0.1:9/hook", allow_private_webhook_targets: true }
`),
    );
    expect(config.providers.gemini?.monitoring?.webhookUrl).toBe("http://127.0.0.1:9/hook");
  });

  it("accepts every store type", () => {
    const base = gemini("    api_keys: [k]\n");
    expect(parseConfig(`${base}store: { type: memory }\n`).store).toEqual({ type: "memory" });
    expect(
      parseConfig(`${base}store: { type: redis, url: "redis://:pw@h:6379/0" }\n`).store,
    ).toEqual({
      type: "redis",
      url: "redis://:pw@h:6379/0",
    });
    expect(
      parseConfig(`${base}store: { type: redis, url: "rediss://h", prefix: "om:" }\n`).store,
    ).toEqual({ type: "redis", url: "rediss://h", prefix: "om:" });
  });
});

const ONE_CRED = "    oauth_credentials:\n      - id: a\n        access_token: t\n";

describe("parseConfig: each mistake gives its path and message", () => {
  it.each<[string, string, Record<string, string>, ConfigIssue]>([
    [
      "missing id",
      gemini("    oauth_credentials:\n      - access_token: t\n"),
      {},
      { path: "providers.gemini.oauth_credentials[0].id", message: "is required" },
    ],
    [
      "duplicate ids, naming both positions",
      gemini(
        `${ONE_CRED}      - id: b\n        access_token: t\n      - id: a\n        access_token: u\n`,
      ),
      {},
      {
        path: "providers.gemini.oauth_credentials[2].id",
        message: 'duplicate id "a": oauth_credentials[0] has it too',
      },
    ],
    [
      "misspelt provider_data field",
      gemini(`${ONE_CRED}        provider_data: { resource_uri: x }\n`),
      {},
      {
        path: "providers.gemini.oauth_credentials[0].provider_data.resource_uri",
        message: 'unknown key "resource_uri", did you mean "resource_url"?',
      },
    ],
    [
      "provider_data that is not a mapping",
      gemini(`${ONE_CRED}        provider_data: portal.qwen.ai\n`),
      {},
      {
        path: "providers.gemini.oauth_credentials[0].provider_data",
        message: "expected a mapping, got a string",
      },
    ],
    [
      "bad date",
      gemini(`${ONE_CRED}        expires_at: 2025-02-30T10:00:00Z\n`),
      {},
      {
        path: "providers.gemini.oauth_credentials[0].expires_at",
        message: 'not a date: expected an RFC 3339 time such as "2025-11-16T10:00:00Z"',
      },
    ],
    [
      "date without a time zone",
      gemini(`${ONE_CRED}        expires_at: "2025-11-16T10:00:00"\n`),
      {},
      {
        path: "providers.gemini.oauth_credentials[0].expires_at",
        message: 'not a date: expected an RFC 3339 time such as "2025-11-16T10:00:00Z"',
      },
    ],
    [
      "negative duration",
      gemini(`${ONE_CRED}    refresh_strategy: { buffer_time: -5m }\n`),
      {},
      { path: "providers.gemini.refresh_strategy.buffer_time", message: "must not be negative" },
    ],
    [
      '"5 minutes" instead of 5m',
      gemini(`${ONE_CRED}    monitoring: { expiry_warning_time: 5 minutes }\n`),
      {},
      {
        path: "providers.gemini.monitoring.expiry_warning_time",
        message:
          'not a duration: expected milliseconds or a duration such as "500ms", "90s", "5m", "1h30m", "24h" or "30d"',
      },
    ],
    [
      "duration beyond 2^31-1 ms",
      gemini(`${ONE_CRED}    backoff: { max_cooldown: 30d }\n`),
      {},
      {
        path: "providers.gemini.backoff.max_cooldown",
        message: "must be at most 24d20h31m23s647ms (2147483647 ms)",
      },
    ],
    [
      "zero where it means nothing",
      gemini(`${ONE_CRED}    rotation: { rotation_interval: 0 }\n`),
      {},
      { path: "providers.gemini.rotation.rotation_interval", message: "must be greater than 0" },
    ],
    [
      "unknown key, with a suggestion",
      gemini(`${ONE_CRED}        client_secrt: s\n`),
      {},
      {
        path: "providers.gemini.oauth_credentials[0].client_secrt",
        message: 'unknown key "client_secrt", did you mean "client_secret"?',
      },
    ],
    [
      "unknown key without a close match",
      `${gemini(ONE_CRED)}frobnicate: 1\n`,
      {},
      {
        path: "frobnicate",
        message: 'unknown key "frobnicate" (known keys: providers, store, server)',
      },
    ],
    [
      "wrong type",
      gemini(`${ONE_CRED}        weight: heavy\n`),
      {},
      {
        path: "providers.gemini.oauth_credentials[0].weight",
        message: "expected a number, got a string",
      },
    ],
    [
      "a number where a string belongs",
      gemini("    oauth_credentials:\n      - id: 42\n        access_token: t\n"),
      {},
      {
        path: "providers.gemini.oauth_credentials[0].id",
        message: "expected a string, got a number (quote it in YAML)",
      },
    ],
    [
      "a mapping where a list belongs",
      gemini("    oauth_credentials: { id: a }\n"),
      {},
      { path: "providers.gemini.oauth_credentials", message: "expected a list, got an object" },
    ],
    [
      "unset env var, named",
      gemini(`${ONE_CRED}        refresh_token: \${GEMINI_REFRESH}\n`),
      {},
      {
        path: "providers.gemini.oauth_credentials[0].refresh_token",
        message:
          "environment variable GEMINI_REFRESH is not set (write ${GEMINI_REFRESH:-default} to give a default)",
      },
    ],
    [
      "malformed YAML, with line and column",
      "providers:\n  gemini:\n    api_keys: [k\n  other: 1\n",
      {},
      { path: "", message: "invalid YAML at line 4, column 3: bad indentation" },
    ],
    [
      "duplicate mapping key",
      gemini(`${ONE_CRED}        access_token: u\n`),
      {},
      {
        path: "",
        message:
          'invalid YAML at line 6, column 9: duplicate key "access_token" (first at line 5; keys in a mapping must be unique)',
      },
    ],
    [
      "webhook URL with userinfo",
      gemini(
        `${ONE_CRED}    monitoring: { webhook_url: "https://user:pass@hooks.example.com/x" }\n`,
      ),
      {},
      {
        path: "providers.gemini.monitoring.webhook_url",
        message: "must not contain a user name or password",
      },
    ],
    [
      "webhook URL that is not http(s)",
      gemini(`${ONE_CRED}    monitoring: { webhook_url: "ftp://hooks.example.com/x" }\n`),
      {},
      {
        path: "providers.gemini.monitoring.webhook_url",
        message: "must be a http:// or https:// URL",
      },
    ],
    [
      "webhook URL at a private address",
      gemini(`${ONE_CRED}    monitoring: { webhook_url: "http://[::ffff:169.254.169.254]/" }\n`),
      {},
      {
        path: "providers.gemini.monitoring.webhook_url",
        message:
          "points at a loopback, private or link-local address; set allow_private_webhook_targets: true to allow it",
      },
    ],
    [
      "min_buffer > max_buffer",
      gemini(`${ONE_CRED}    refresh_strategy: { min_buffer: 20m, max_buffer: 10m }\n`),
      {},
      {
        path: "providers.gemini.refresh_strategy.min_buffer",
        message: "min_buffer (20m) must not be greater than max_buffer (10m)",
      },
    ],
    [
      "min_buffer above the preset's max_buffer",
      gemini(`${ONE_CRED}    refresh_strategy: { preset: default, min_buffer: 20m }\n`),
      {},
      {
        path: "providers.gemini.refresh_strategy.min_buffer",
        message: "min_buffer (20m) must not be greater than max_buffer (15m)",
      },
    ],
    [
      "no credentials",
      gemini("    model: m\n    oauth_credentials: []\n"),
      {},
      {
        path: "providers.gemini",
        message:
          "has no credentials: give at least one entry in oauth_credentials or api_keys, or a store for logins added with oauthmanager login or import",
      },
    ],
    [
      "credential with neither token",
      gemini("    oauth_credentials:\n      - { id: a, access_token: '' }\n"),
      {},
      {
        path: "providers.gemini.oauth_credentials[0]",
        message: "needs an access_token or a refresh_token",
      },
    ],
    [
      "provider name unfit for metric labels and URLs",
      "providers:\n  Gemini Pro:\n    api_keys: [k]\n",
      {},
      {
        path: 'providers["Gemini Pro"]',
        message:
          "a provider name must be 1 to 64 of a-z, 0-9, _ and - (it is used in metric labels and URL paths)",
      },
    ],
    [
      "misspelt preset",
      gemini(`${ONE_CRED}    refresh_strategy: adaptve\n`),
      {},
      {
        path: "providers.gemini.refresh_strategy",
        message: 'expected one of "default", "adaptive", "conservative"; did you mean "adaptive"?',
      },
    ],
    [
      "misspelt selection",
      gemini(`${ONE_CRED}    selection: least_busy\n`),
      {},
      {
        path: "providers.gemini.selection",
        message:
          'expected one of "round-robin", "weighted", "least-busy", "fill-first"; did you mean "least-busy"?',
      },
    ],
    [
      "failure rate threshold out of [0, 1]",
      gemini(`${ONE_CRED}    monitoring: { failure_rate_threshold: 1.5 }\n`),
      {},
      {
        path: "providers.gemini.monitoring.failure_rate_threshold",
        message: "must be at least 0 and at most 1",
      },
    ],
    [
      "webhook secret not in Standard Webhooks form",
      gemini(`${ONE_CRED}    monitoring: { webhook_secret: hunter2 }\n`),
      {},
      {
        path: "providers.gemini.monitoring.webhook_secret",
        message:
          "must be a Standard Webhooks secret: whsec_ followed by the base64 of 24 to 64 random bytes",
      },
    ],
    [
      "API key id taken by an OAuth credential",
      gemini("    api_keys: [k]\n    oauth_credentials:\n      - { id: key-1, access_token: t }\n"),
      {},
      {
        path: "providers.gemini.oauth_credentials[0].id",
        message: 'id "key-1" is taken by api_keys[0] (API keys are named key-1, key-2, …)',
      },
    ],
    [
      "two credentials sharing a refresh token",
      gemini(
        "    oauth_credentials:\n      - { id: a, refresh_token: r }\n      - { id: b, refresh_token: r }\n",
      ),
      {},
      {
        path: "providers.gemini.oauth_credentials[1].refresh_token",
        message: "the same refresh token as oauth_credentials[0]: a refresh token cannot be shared",
      },
    ],
    [
      "unknown store type",
      `${gemini(ONE_CRED)}store: { type: files }\n`,
      {},
      {
        path: "store.type",
        message: 'expected one of "memory", "file", "redis"; did you mean "file"?',
      },
    ],
    [
      "file store without a path",
      `${gemini(ONE_CRED)}store: { type: file }\n`,
      {},
      { path: "store.path", message: "is required" },
    ],
    [
      "redis store with an http URL",
      `${gemini(ONE_CRED)}store: { type: redis, url: "http://h" }\n`,
      {},
      { path: "store.url", message: "must be a redis:// or rediss:// URL" },
    ],
    [
      "auth mapping without {token}",
      gemini(`${ONE_CRED}    auth: { header: X-Key, template: "Key" }\n`),
      {},
      {
        path: "providers.gemini.auth.template",
        message: 'must contain "{token}" (where the token goes) and no line breaks',
      },
    ],
    [
      "auth scheme misspelt",
      gemini(`${ONE_CRED}    auth: x-api-kye\n`),
      {},
      {
        path: "providers.gemini.auth",
        message:
          'expected one of "bearer", "x-api-key", "x-goog-api-key"; did you mean "x-api-key"?, or a mapping { header, template }',
      },
    ],
    [
      "header name with a space",
      gemini(`${ONE_CRED}    headers: { "x bad": v }\n`),
      {},
      { path: 'providers.gemini.headers["x bad"]', message: "not a valid HTTP header name" },
    ],
    [
      "upstream that is not a URL",
      gemini(`${ONE_CRED}    upstream: generativelanguage.googleapis.com\n`),
      {},
      { path: "providers.gemini.upstream", message: "not a valid absolute URL" },
    ],
    [
      "port out of range",
      `${gemini(ONE_CRED)}server: { port: 70000 }\n`,
      {},
      { path: "server.port", message: "must be at least 0 and at most 65535" },
    ],
    [
      "empty client key",
      `${gemini(ONE_CRED)}server: { client_keys: ["\${GW:-}"] }\n`,
      {},
      { path: "server.client_keys[0]", message: "must not be empty" },
    ],
    [
      "no providers",
      "providers: {}\n",
      {},
      { path: "providers", message: "at least one provider is required" },
    ],
    [
      "missing providers",
      "server: { port: 1 }\n",
      {},
      { path: "providers", message: "is required" },
    ],
    [
      "empty document",
      "# nothing here\n",
      {},
      { path: "", message: "the configuration is empty: expected a mapping with a providers key" },
    ],
    ["a scalar document", "hello\n", {}, { path: "", message: "expected a mapping, got a string" }],
    [
      "an undefined alias",
      "providers: *nope\n",
      {},
      {
        path: "",
        message: "invalid YAML: an alias refers to an anchor that is not defined before it",
      },
    ],
    [
      "keys that are the same once read as names",
      gemini(`${ONE_CRED}    headers: { 1: a, "1": b }\n`),
      {},
      { path: "providers.gemini.headers", message: 'duplicate key "1"' },
    ],
    [
      "a __proto__ key",
      gemini(`${ONE_CRED}        __proto__: { polluted: true }\n`),
      {},
      { path: "providers.gemini.oauth_credentials[0]", message: 'key "__proto__" is not allowed' },
    ],
  ])("%s", (_name, text, env, expected) => {
    expect(issuesOf(text, env)).toContainEqual(expected);
  });

  it("reports YAML errors with line and column and without quoting the source", () => {
    const issues = issuesOf('providers:\n  gemini:\n    api_keys: ["s3cr3t-value\n');
    expect(issues.length).toBeGreaterThan(0);
    for (const issue of issues) {
      expect(issue.message).toMatch(/^invalid YAML at line \d+, column \d+: /);
      expect(issue.message).not.toContain("s3cr3t");
    }
  });

  it("refuses a second YAML document instead of dropping it", () => {
    const text = `${gemini(ONE_CRED)}---\nproviders: {}\n`;
    expect(issuesOf(text)).toEqual([
      { path: "", message: "invalid YAML at line 6, column 1: more than one YAML document" },
    ]);
    // A document start marker at the top and an end marker at the bottom are still one document.
    expect(() => parseConfig(`---\n${gemini(ONE_CRED)}...\n`, {})).not.toThrow();
  });

  it("lists YAML errors in the order of their lines", () => {
    const issues = issuesOf('a: "\\q"\nb: 1\nb: 2\nc:\n\td: 1\n');
    const lines = issues.map((i) => Number(/at line (\d+)/.exec(i.message)?.[1]));
    expect(lines).toEqual([1, 3, 5]);
  });

  it("refuses an invalid encryption key by its path, as the file store would", () => {
    const store = (key: string) =>
      `${gemini(ONE_CRED)}store: { type: file, path: /tmp/t.json, encryption_key: "${key}" }\n`;
    expect(issuesOf(store("too-short"))).toEqual([
      {
        path: "store.encryption_key",
        message:
          "expected an AES-256 key: 32 bytes as a Uint8Array, or 32 bytes as 64 hex digits or base64; got a string of 9 characters that is not 32 bytes in hex or base64",
      },
    ]);
    expect(parseConfig(store(STORE_KEY), {}).store).toMatchObject({ encryptionKey: STORE_KEY });
    const base64 = Buffer.alloc(32, 1).toString("base64");
    expect(parseConfig(store(base64), {}).store).toMatchObject({ encryptionKey: base64 });
  });

  it("refuses a text larger than 1 MiB before parsing it", () => {
    const valid = gemini(ONE_CRED);
    const padTo = (bytes: number) => `${valid}#${"x".repeat(bytes - valid.length - 2)}\n`;
    expect(padTo(1024 * 1024)).toHaveLength(1024 * 1024);
    expect(() => parseConfig(padTo(1024 * 1024), {})).not.toThrow();
    const tooLarge = [{ path: "", message: expect.stringContaining("larger than 1 MiB") }];
    expect(issuesOf(padTo(1024 * 1024 + 1))).toEqual(tooLarge);
    expect(issuesOf("x: 1\n".repeat(5_000_000))).toEqual(tooLarge);
    // The limit is on UTF-8 bytes: fewer characters than that may still be too many bytes.
    expect(issuesOf(`${valid}# ${"é".repeat(600_000)}\n`)).toEqual(tooLarge);
  });

  it("lists several mistakes at once", () => {
    const issues = issuesOf(
      `providers:
  gemini:
    selection: fastest
    oauth_credentials:
      - id: a
        access_token: \${MISSING}
        expires_at: yesterday
      - id: a
        refresh_token: r
        weight: -1
        refresh_tokn: r2
  Bad:
    api_keys: []
store: { type: file }
server: { port: -1 }
`,
    );
    expect(issues.map((i) => i.path).sort()).toEqual(
      [
        "providers.gemini.oauth_credentials[0].access_token",
        "providers.gemini.oauth_credentials[1].id",
        "providers.gemini.oauth_credentials[0].expires_at",
        "providers.gemini.oauth_credentials[1].weight",
        "providers.gemini.oauth_credentials[1].refresh_tokn",
        "providers.gemini.selection",
        // Its name; its empty list is no mistake beside a store (the store holds its logins).
        "providers.Bad",
        "store.path",
        "server.port",
      ].sort(),
    );
    // The unset variable is reported once, not again as a missing token.
    expect(issues.filter((i) => i.path.endsWith("[0]"))).toEqual([]);
  });

  it("refuses a billion-laughs document", () => {
    const lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 8; i++) {
      const [prev, name] = [String.fromCharCode(96 + i), String.fromCharCode(97 + i)];
      lines.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(", ")}]`);
    }
    lines.push("providers: *h");
    expect(issuesOf(lines.join("\n"))).toEqual([
      { path: "", message: "invalid YAML: more than 100 alias expansions" },
    ]);
  });

  it("reads a file with a byte order mark and CRLF line ends", () => {
    const config = parseConfig("\uFEFFproviders:\r\n  g:\r\n    api_keys: [k]\r\n", {});
    expect(config.providers.g?.apiKeys).toEqual(["k"]);
  });

  it("throws a TypeError for a non-string text", () => {
    expect(() => parseConfig(42 as unknown as string)).toThrow(TypeError);
  });
});

describe("no secret in any message", () => {
  const CANARY = "canary-7f3a9c2e";
  const whsecCanary = `whsec_${Buffer.from(`${CANARY}-${CANARY}`).toString("base64")}`;

  const cases: [string, string, Record<string, string>][] = [
    ["as an enum value", gemini(`${ONE_CRED}    selection: ${CANARY}\n`), {}],
    ["as a preset", gemini(`${ONE_CRED}    refresh_strategy: ${CANARY}\n`), {}],
    ["as a duration", gemini(`${ONE_CRED}    backoff: { max_cooldown: ${CANARY} }\n`), {}],
    ["as a date", gemini(`${ONE_CRED}        expires_at: ${CANARY}\n`), {}],
    ["as a number", gemini(`${ONE_CRED}        weight: ${CANARY}\n`), {}],
    ["as a boolean", gemini(`${ONE_CRED}    backoff: { jitter: ${CANARY} }\n`), {}],
    ["as an auth scheme", gemini(`${ONE_CRED}    auth: ${CANARY}\n`), {}],
    ["as a store type", `${gemini(ONE_CRED)}store: { type: ${CANARY} }\n`, {}],
    ["as an event", gemini(`${ONE_CRED}    monitoring: { webhook_events: [${CANARY}] }\n`), {}],
    [
      "in webhook userinfo",
      gemini(`${ONE_CRED}    monitoring: { webhook_url: "https://u:${CANARY}@h/x" }\n`),
      {},
    ],
    [
      "in a bad webhook URL",
      gemini(`${ONE_CRED}    monitoring: { webhook_url: "${CANARY}" }\n`),
      {},
    ],
    [
      "in a redis URL",
      `${gemini(ONE_CRED)}store: { type: redis, url: "http://:${CANARY}@h" }\n`,
      {},
    ],
    [
      "as a webhook secret",
      gemini(`${ONE_CRED}    monitoring: { webhook_secret: ${CANARY} }\n`),
      {},
    ],
    [
      "as a too-long webhook secret",
      gemini(
        `${ONE_CRED}    monitoring: { webhook_secret: "${whsecCanary}${whsecCanary.slice(6)}" }\n`,
      ),
      {},
    ],
    [
      "as a header value with a line break",
      gemini(`${ONE_CRED}    headers: { x-a: "${CANARY}\\n" }\n`),
      {},
    ],
    [
      "as an encryption key",
      `${gemini(ONE_CRED)}store: { type: file, path: p, encryption_key: ${CANARY} }\n`,
      {},
    ],
    ["under an unknown key", gemini(`${ONE_CRED}        client_secrt: ${CANARY}\n`), {}],
    ["as a token of the wrong type", gemini(`${ONE_CRED}        refresh_token: [${CANARY}]\n`), {}],
    [
      "as shared refresh tokens",
      gemini(
        `    oauth_credentials:\n      - { id: a, refresh_token: ${CANARY} }\n      - { id: b, refresh_token: ${CANARY} }\n`,
      ),
      {},
    ],
    ["as repeated API keys", gemini(`    api_keys: [${CANARY}, ${CANARY}]\n`), {}],
    [
      "from the environment into a number",
      `${gemini(ONE_CRED)}server: { port: \${PORT} }\n`,
      { PORT: CANARY },
    ],
    [
      "next to an unset variable",
      gemini(`${ONE_CRED}        client_secret: "${CANARY}\${NOPE}"\n`),
      {},
    ],
    ["on a YAML syntax error line", gemini(`    api_keys: ["${CANARY}\n`), {}],
    ["as a key-less value", gemini(`    api_keys:\n      - ${CANARY}: ${CANARY}: x\n`), {}],
    ["in duplicate keys", gemini(`${ONE_CRED}        access_token: ${CANARY}\n`), {}],
    ["in an unknown tag", gemini(`    api_keys: !!int ${CANARY}\n`), {}],
    [
      "as a client key of the wrong type",
      `${gemini(ONE_CRED)}server: { client_keys: ${CANARY} }\n`,
      {},
    ],
  ];

  it.each(cases)("a canary %s never appears", (_name, text, env) => {
    let error: unknown;
    try {
      parseConfig(text, env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    for (const out of [e.message, e.stack ?? "", inspect(e, { depth: 10 }), JSON.stringify(e)]) {
      expect(out).not.toContain(CANARY);
    }
  });
});

describe("loadConfig", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "oauthmanager-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads and parses a file", async () => {
    const file = join(dir, "ok.yaml");
    await writeFile(file, await fixture("two-credentials.yaml"));
    const config = await loadConfig(file, {});
    expect(config.providers.gemini?.oauthCredentials).toHaveLength(2);
  });

  it("names the file, line and column of a YAML error", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(file, "providers:\n  gemini:\n  gemini:\n    api_keys: [k]\n");
    const error = await loadConfig(file, {}).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(file);
    expect((error as ConfigError).message).toMatch(/line 3, column 3/);
    expect((error as ConfigError).issues[0]?.path).toBe("");
  });

  it("names the file when it cannot be read", async () => {
    const file = join(dir, "missing.yaml");
    await expect(loadConfig(file, {})).rejects.toThrow(
      new ConfigError(`cannot read configuration file ${file}: no such file`),
    );
  });

  it("says a directory is a directory", async () => {
    const sub = join(dir, "a-directory.yaml");
    await mkdir(sub);
    await expect(loadConfig(sub, {})).rejects.toThrow(
      new ConfigError(`cannot read configuration file ${sub}: it is a directory`),
    );
  });

  it("refuses a file larger than 1 MiB by its size, without reading it", async () => {
    const file = join(dir, "huge.yaml");
    // Sparse: 3 GiB that take no disk space, more than Node will even read into one string.
    await writeFile(file, "");
    await truncate(file, 3 * 1024 ** 3);
    const error = (await loadConfig(file, {}).catch((err: unknown) => err)) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      `invalid configuration file ${file}:\nthe configuration is larger than 1 MiB (3221225472 bytes)`,
    );
  });

  it.skipIf(process.platform === "win32")(
    "stops reading a device that never ends at 1 MiB",
    async () => {
      const error = (await loadConfig("/dev/zero", {}).catch((err: unknown) => err)) as Error;
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toContain("larger than 1 MiB");
    },
  );

  it("keeps the issues' paths when it adds the file name", async () => {
    const file = join(dir, "schema.yaml");
    await writeFile(file, gemini("    selection: nope\n    api_keys: [k]\n"));
    const error = (await loadConfig(file, {}).catch((err: unknown) => err)) as ConfigError;
    expect(error.message.split("\n")[0]).toBe(`invalid configuration file ${file}:`);
    expect(error.issues.map((i) => i.path)).toEqual(["providers.gemini.selection"]);
  });
});

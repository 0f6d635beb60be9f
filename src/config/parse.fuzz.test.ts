// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} placeholders are literal text here
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ConfigError } from "../errors.js";
import { type OAuthManagerConfig, parseConfig } from "./index.js";

type Env = Record<string, string | undefined>;

/** parseConfig either returns a well-formed configuration or throws a ConfigError: nothing else. */
function run(text: string, env: Env): OAuthManagerConfig | ConfigError {
  try {
    const config = parseConfig(text, env);
    for (const [name, p] of Object.entries(config.providers)) {
      expect(name).toMatch(/^[a-z0-9_-]+$/);
      expect(p.name).toBe(name);
      expect(p.oauthCredentials.length + p.apiKeys.length).toBeGreaterThan(0);
      for (const c of p.oauthCredentials) {
        expect(typeof c.id).toBe("string");
        expect(typeof c.accessToken).toBe("string");
        expect(c.accessToken !== "" || (c.refreshToken ?? "") !== "").toBe(true);
        if (c.expiresAt) expect(Number.isNaN(c.expiresAt.getTime())).toBe(false);
      }
      for (const ms of Object.values(p.refreshStrategy ?? {})) {
        if (typeof ms === "number") expect(Number.isFinite(ms) && ms >= 0).toBe(true);
      }
    }
    return config;
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.issues.length).toBeGreaterThan(0);
    for (const issue of e.issues) {
      expect(typeof issue.path).toBe("string");
      expect(typeof issue.message).toBe("string");
      expect(issue.message.length).toBeGreaterThan(0);
    }
    return e;
  }
}

const env: fc.Arbitrary<Env> = fc.dictionary(
  fc.constantFrom("A", "B", "TOKEN", "PORT"),
  fc.oneof(fc.string(), fc.constantFrom("", "5m", "8080", "true", "${A}")),
);

const FRAGMENTS = [
  "providers:",
  "gemini:",
  "oauth_credentials:",
  "api_keys:",
  "- ",
  "id: a",
  "access_token: t",
  "refresh_token: ${TOKEN}",
  "expires_at: 2025-11-16T10:00:00Z",
  "refresh_strategy: adaptive",
  "buffer_time: 5m",
  "store: {type: file}",
  "server:",
  "port: ${PORT:-1}",
  "\n",
  "  ",
  "    ",
  "\t",
  ": ",
  "[",
  "]",
  "{",
  "}",
  ",",
  "#",
  "&a ",
  "*a",
  "!!int ",
  "!!binary ",
  "'",
  '"',
  "---",
  "%YAML 1.1\n---\n",
  "? ",
  "<<: *a",
  "|\n",
  ">-\n",
  "$${",
  "${",
  "__proto__: ",
  "~",
  "null",
  ".nan",
  "-1",
  "1e400",
];

const yamlish = fc
  .array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 5 })), { maxLength: 40 })
  .map((parts) => parts.join(""));

const canary = fc.stringMatching(/^[a-z0-9]{8,12}$/).map((s) => `cnry${s}`);

const leaf = (secret: fc.Arbitrary<string>) =>
  fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(
      "5m",
      "-1s",
      "1h30m",
      "5 minutes",
      "${A}",
      "${B:-x}",
      "$${A}",
      "${",
      "2025-11-16T10:00:00Z",
      "2025-02-30T10:00:00Z",
      "https://hooks.example.com/h",
      "http://127.0.0.1/h",
      "https://u:p@h/",
      "redis://h",
      "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "round-robin",
      "adaptive",
      "bearer",
      "memory",
      "file",
      "{token}",
      "key-1",
    ),
    secret,
  );

const CRED_KEYS = [
  "id",
  "client_id",
  "client_secret",
  "access_token",
  "refresh_token",
  "expires_at",
  "scopes",
  "weight",
  "client_secrt",
];

function configArbitrary(secret: fc.Arbitrary<string>) {
  const value = leaf(secret);
  const map = (keys: string[]) => fc.oneof(fc.dictionary(fc.constantFrom(...keys), value), value);
  const cred = fc.dictionary(fc.constantFrom(...CRED_KEYS), value, { minKeys: 1 });
  const provider = fc.record(
    {
      model: value,
      oauth_credentials: fc.oneof(fc.array(cred, { maxLength: 4 }), value),
      api_keys: fc.oneof(fc.array(value, { maxLength: 3 }), value),
      refresh_strategy: map([
        "preset",
        "buffer_time",
        "min_buffer",
        "max_buffer",
        "adaptive_buffer",
      ]),
      selection: value,
      rotation: map(["enabled", "rotation_interval", "grace_period", "auto_decommission"]),
      monitoring: map([
        "webhook_url",
        "webhook_events",
        "failure_rate_threshold",
        "webhook_secret",
        "allow_private_webhook_targets",
      ]),
      backoff: map(["jitter", "max_cooldown"]),
      upstream: value,
      auth: map(["header", "template"]),
      headers: fc.dictionary(fc.string({ maxLength: 8 }), value),
      token_url: value,
      client_auth: value,
      body_format: value,
    },
    { requiredKeys: [] },
  );
  return fc.record(
    {
      providers: fc.oneof(
        fc.dictionary(
          fc.constantFrom("gemini", "qwen", "x_1", "Bad Name", "__proto__", "constructor", ""),
          provider,
        ),
        value,
      ),
      store: map(["type", "path", "url", "prefix", "encryption_key"]),
      server: map(["client_keys", "admin_key", "host", "port"]),
      extra: value,
    },
    { requiredKeys: [] },
  );
}

/** Configurations built only from valid parts, so the success path gets exercised too. */
const validConfig = fc
  .dictionary(
    fc.stringMatching(/^[a-z0-9_-]{1,12}$/),
    fc.record(
      {
        oauth_credentials: fc
          .uniqueArray(fc.stringMatching(/^[A-Za-z0-9._-]{1,16}$/), { minLength: 1, maxLength: 5 })
          .chain((ids) =>
            fc.tuple(
              ...ids.map((id, i) =>
                fc.record(
                  {
                    id: fc.constant(id),
                    // "${" would be a placeholder, so a token never holds one unescaped.
                    access_token: fc.string({ minLength: 1 }).filter((t) => !t.includes("${")),
                    refresh_token: fc.constant(`refresh-${i}`),
                    expires_at: fc
                      .date({
                        min: new Date("2000-01-01T00:00:00Z"),
                        max: new Date("2100-01-01T00:00:00Z"),
                        noInvalidDate: true,
                      })
                      .map((d) => d.toISOString()),
                    weight: fc.integer({ min: 0, max: 100 }),
                    scopes: fc.array(fc.stringMatching(/^[a-z:/.]{1,20}$/), { maxLength: 3 }),
                  },
                  { requiredKeys: ["id", "refresh_token"] },
                ),
              ),
            ),
          ),
        selection: fc.constantFrom("round-robin", "weighted", "least-busy", "fill-first"),
        refresh_strategy: fc.oneof(
          fc.constantFrom("default", "adaptive", "conservative"),
          fc.record(
            {
              buffer_time: fc.constantFrom("30s", "5m", "1h", 0, 60_000),
              adaptive_buffer: fc.boolean(),
            },
            { requiredKeys: [] },
          ),
        ),
        rotation: fc.record(
          { enabled: fc.boolean(), rotation_interval: fc.constantFrom("1d", "30d", "365d") },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: ["oauth_credentials"] },
    ),
    { minKeys: 1, maxKeys: 3 },
  )
  .filter(
    // fast-check may add a "__proto__" key on purpose; parseConfig refuses it (tested elsewhere).
    (providers) => !Object.hasOwn(providers, "__proto__"),
  );

describe("parseConfig under fuzzing: returns a config or throws ConfigError, nothing else", () => {
  it("arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), env, (text, e) => {
        run(text, e);
      }),
      { numRuns: 300 },
    );
  });

  it("YAML-like fragments", () => {
    fc.assert(
      fc.property(yamlish, env, (text, e) => {
        run(text, e);
      }),
      { numRuns: 500 },
    );
  });

  it("arbitrary JSON values stringified to YAML", () => {
    fc.assert(
      fc.property(fc.jsonValue(), env, (value, e) => {
        run(stringify(value), e);
      }),
      { numRuns: 200 },
    );
  });

  it("configuration-shaped objects stringified to YAML", () => {
    fc.assert(
      fc.property(configArbitrary(fc.string()), env, (value, e) => {
        run(stringify(value), e);
      }),
      { numRuns: 300 },
    );
  });

  it("valid configurations parse, every credential kept in order", () => {
    fc.assert(
      fc.property(validConfig, (providers) => {
        const out = run(stringify({ providers }), {});
        expect(out).not.toBeInstanceOf(ConfigError);
        const config = out as OAuthManagerConfig;
        expect(Object.keys(config.providers)).toEqual(Object.keys(providers));
        for (const [name, p] of Object.entries(providers)) {
          const parsed = config.providers[name]!;
          expect(parsed.oauthCredentials.map((c) => c.id)).toEqual(
            p.oauth_credentials.map((c) => c.id),
          );
          p.oauth_credentials.forEach((c, i) => {
            const cred = parsed.oauthCredentials[i]!;
            expect(cred.accessToken).toBe(c.access_token ?? "");
            expect(cred.refreshToken).toBe(c.refresh_token);
            if (c.expires_at) expect(cred.expiresAt?.toISOString()).toBe(c.expires_at);
            if (c.weight !== undefined) expect(cred.weight).toBe(c.weight);
          });
        }
      }),
      { numRuns: 100 },
    );
  });

  it("never quotes a value in a message, whatever the mistake", () => {
    fc.assert(
      fc.property(
        fc.array(canary, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        env,
        (canaries, seed, e) => {
          const value = fc.sample(configArbitrary(fc.constantFrom(...canaries)), {
            seed,
            numRuns: 1,
          })[0];
          const out = run(stringify(value), { ...e, A: canaries[0] });
          if (!(out instanceof ConfigError)) return;
          for (const issue of out.issues) {
            // Credential ids are names, shown on purpose (duplicate id, id taken by an API key).
            if (/^(duplicate id|id ")/.test(issue.message)) continue;
            for (const c of canaries) {
              expect(issue.message).not.toContain(c);
              expect(issue.path).not.toContain(c);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

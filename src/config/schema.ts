/**
 * The configuration schema: snake_case YAML in, the camelCase {@link OAuthManagerConfig} out.
 * @module
 */
import { homedir } from "node:os";
import { join } from "node:path";
import * as z from "zod";
import type { BudgetLimits, BudgetOptions, ModelPrice } from "../budget/options.js";
import { ConfigError } from "../errors.js";
import type { BackoffOptions, SessionOptions } from "../manager/options.js";
import {
  defaultMonitoringConfig,
  WEBHOOK_EVENT_TYPES,
  webhookSecretIssue,
} from "../monitoring/config.js";
import { providerDataFromSnake } from "../provider-data.js";
import { IMPORT_KINDS } from "../providers/import.js";
import type { RefreshAnomalyOptions } from "../refresh/refresh-anomaly.js";
import {
  adaptiveRefreshStrategy,
  conservativeRefreshStrategy,
  defaultRefreshStrategy,
} from "../refresh/strategy.js";
import { defaultRotationPolicy } from "../rotation/policy.js";
import type { SelectionName } from "../selection/selector.js";
import { parseEncryptionKey } from "../stores/crypto.js";
import type {
  CredentialSource,
  MonitoringConfig,
  OAuthCredentialSet,
  RefreshStrategy,
  RotationPolicy,
} from "../types.js";
import { formatDuration, MAX_LONG_DURATION_MS } from "./duration.js";
import {
  bool,
  type Checked,
  checkOneOf,
  checkString,
  date,
  duration,
  field,
  isRecord,
  num,
  oneOf,
  str,
  strict,
  subParse,
} from "./fields.js";
import type {
  AuthScheme,
  LoginConfig,
  OAuthManagerConfig,
  ProviderConfig,
  RefreshPresetName,
  ServerConfig,
  StoreConfig,
} from "./types.js";
import { checkUrl, isPrivateHost } from "./url.js";

const PRESETS: Record<RefreshPresetName, () => RefreshStrategy> = {
  default: defaultRefreshStrategy,
  adaptive: adaptiveRefreshStrategy,
  conservative: conservativeRefreshStrategy,
};
const PRESET_NAMES = Object.keys(PRESETS) as RefreshPresetName[];
const SELECTIONS = [
  "round-robin",
  "weighted",
  "least-busy",
  "fill-first",
] as const satisfies readonly SelectionName[];
const EVENTS = WEBHOOK_EVENT_TYPES;
const AUTH_NAMES = ["bearer", "x-api-key", "x-goog-api-key"] as const;
const STORE_TYPES = ["memory", "file", "redis"] as const;
/** 1 GiB: a gateway holds each request body in memory to replay it on another credential. */
const MAX_BODY_BYTES_LIMIT = 1024 * 1024 * 1024;

/** Provider names become Prometheus label values and URL path segments: keep them plain. */
const PROVIDER_NAME = /^[a-z0-9_-]{1,64}$/;
/** RFC 9110 token characters. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const NO_CONTROL = /^[^\p{Cc}]*$/u;
const NO_LINE_BREAK = /^[^\r\n\0]*$/;

/** Drops undefined values, so optional fields stay absent (exactOptionalPropertyTypes). */
function defined<T extends object>(value: { [K in keyof T]: T[K] | undefined }): T {
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = item;
  return out as T;
}

const secret = () => str({ nonEmpty: true });

const httpUrl = () =>
  field((value): Checked<string> => {
    const s = checkString(value, { nonEmpty: true });
    if (!s.ok) return s;
    const url = checkUrl(s.value, ["http:", "https:"]);
    return url.ok ? { ok: true, value: s.value } : url;
  });

// ---------------------------------------------------------------- credentials

const scopes = () =>
  field((value): Checked<string[]> => {
    // OAuth writes scopes space-separated (RFC 6749 §3.3); a list is the YAML way.
    if (typeof value === "string") return { ok: true, value: value.split(/\s+/).filter(Boolean) };
    if (!Array.isArray(value)) {
      return { ok: false, message: "expected a list of scopes or a space-separated string" };
    }
    if (!value.every((s) => typeof s === "string" && s.trim() !== "")) {
      return { ok: false, message: "every scope must be a non-empty string" };
    }
    return { ok: true, value: value as string[] };
  });

/** Provider facts a credential needs to reach the API; see `ProviderData`. */
const providerData = strict({
  resource_url: str({ nonEmpty: true }).optional(),
  account_id: str({ nonEmpty: true }).optional(),
  project_id: str({ nonEmpty: true }).optional(),
}).transform(providerDataFromSnake);

const given = (value: unknown) => value !== undefined && value !== null && value !== "";

/** The login file a CLI keeps refreshing; `~/` is the home directory. */
const credentialSource = strict({
  format: oneOf(IMPORT_KINDS),
  path: str({ nonEmpty: true }),
}).transform(
  (v): CredentialSource => ({
    format: v.format,
    path: v.path.startsWith("~/") ? join(homedir(), v.path.slice(2)) : v.path,
  }),
);

const credentialSchema = strict(
  {
    id: str({
      nonEmpty: true,
      maxLength: 200,
      pattern: [NO_CONTROL, "not contain control characters"],
    }),
    client_id: str({ nonEmpty: true }).optional(),
    client_secret: secret().optional(),
    // May be "" when a refresh token is given: the manager refreshes before first use.
    access_token: str().optional(),
    refresh_token: secret().optional(),
    expires_at: date().optional(),
    // When these tokens were obtained: set it after re-authenticating, so the new tokens win
    // over older ones a token store holds.
    last_refresh: date().optional(),
    scopes: scopes().optional(),
    weight: num({ min: 0 }).optional(),
    provider_data: providerData.optional(),
    owner: oneOf(["manager", "external"]).optional(),
    source: credentialSource.optional(),
  },
  (value, ctx) => {
    // An external credential with a source takes its first token from that file.
    const fromSource = value.owner === "external" && value.source !== undefined;
    if (!given(value.access_token) && !given(value.refresh_token) && !fromSource) {
      ctx.addIssue({ code: "custom", message: "needs an access_token or a refresh_token" });
    }
    if (value.source !== undefined && value.owner !== "external") {
      ctx.addIssue({
        code: "custom",
        path: ["source"],
        message: "is only read for owner: external",
      });
    }
  },
).transform(
  (v): OAuthCredentialSet =>
    defined<OAuthCredentialSet>({
      id: v.id,
      clientId: v.client_id,
      clientSecret: v.client_secret,
      accessToken: v.access_token ?? "",
      refreshToken: v.refresh_token,
      expiresAt: v.expires_at,
      lastRefresh: v.last_refresh,
      scopes: v.scopes,
      weight: v.weight,
      providerData: v.provider_data,
      owner: v.owner,
      source: v.source,
    }),
);

// ---------------------------------------------------------------- refresh strategy

const refreshFields = strict(
  {
    preset: oneOf(PRESET_NAMES).optional(),
    buffer_time: duration({ allowZero: true }).optional(),
    adaptive_buffer: bool().optional(),
    min_buffer: duration({ allowZero: true }).optional(),
    max_buffer: duration({ allowZero: true }).optional(),
    preemptive_refresh: bool().optional(),
    high_traffic_threshold: num({ min: 0 }).optional(),
  },
  (value, ctx) => {
    const preset =
      typeof value.preset === "string" && Object.hasOwn(PRESETS, value.preset)
        ? PRESETS[value.preset as RefreshPresetName]()
        : defaultRefreshStrategy();
    const min = typeof value.min_buffer === "number" ? value.min_buffer : preset.minBuffer;
    const max = typeof value.max_buffer === "number" ? value.max_buffer : preset.maxBuffer;
    // A bound of 0 means "no bound", as validateRefreshStrategy reads it.
    if (max > 0 && min > max) {
      ctx.addIssue({
        code: "custom",
        path: [typeof value.min_buffer === "number" ? "min_buffer" : "max_buffer"],
        message: `min_buffer (${formatDuration(min)}) must not be greater than max_buffer (${formatDuration(max)})`,
      });
    }
  },
).transform((v): RefreshStrategy => {
  const base = PRESETS[v.preset ?? "default"]();
  return {
    bufferTime: v.buffer_time ?? base.bufferTime,
    adaptiveBuffer: v.adaptive_buffer ?? base.adaptiveBuffer,
    minBuffer: v.min_buffer ?? base.minBuffer,
    maxBuffer: v.max_buffer ?? base.maxBuffer,
    preemptiveRefresh: v.preemptive_refresh ?? base.preemptiveRefresh,
    highTrafficThreshold: v.high_traffic_threshold ?? base.highTrafficThreshold,
  };
});

/** A preset name, or fields (optionally over a `preset`). */
const refreshStrategy = z.unknown().transform((value, ctx): RefreshStrategy => {
  if (isRecord(value)) return subParse(refreshFields, value, ctx);
  const name = checkOneOf(value, PRESET_NAMES);
  if (name.ok) return PRESETS[name.value]();
  ctx.addIssue({
    code: "custom",
    message: typeof value === "string" ? name.message : `${name.message}, or a mapping of fields`,
  });
  return z.NEVER;
});

// ---------------------------------------------------------------- rotation, monitoring, backoff

const rotation = strict({
  enabled: bool().optional(),
  // Longer than one timer allows: the manager re-arms its timers in steps.
  rotation_interval: duration({ max: MAX_LONG_DURATION_MS }).optional(),
  grace_period: duration({ allowZero: true, max: MAX_LONG_DURATION_MS }).optional(),
  auto_decommission: bool().optional(),
}).transform((v): RotationPolicy => {
  const d = defaultRotationPolicy();
  return {
    enabled: v.enabled ?? d.enabled,
    rotationInterval: v.rotation_interval ?? d.rotationInterval,
    gracePeriod: v.grace_period ?? d.gracePeriod,
    autoDecommission: v.auto_decommission ?? d.autoDecommission,
  };
});

const webhookSecret = () =>
  field((value): Checked<string> => {
    const s = checkString(value, { nonEmpty: true });
    if (!s.ok) return s;
    // The same check the monitor applies, so parseConfig catches every bad secret by its path.
    const issue = webhookSecretIssue(s.value);
    return issue === undefined ? s : { ok: false, message: issue };
  });

const monitoring = strict(
  {
    webhook_url: httpUrl().optional(),
    webhook_events: z.array(oneOf(EVENTS)).optional(),
    alert_on_high_failure_rate: bool().optional(),
    failure_rate_threshold: num({ min: 0, max: 1 }).optional(),
    alert_on_refresh_failure: bool().optional(),
    alert_on_expiry_soon: bool().optional(),
    // compared with expiry times, never given to a timer: may exceed 24.8 days
    expiry_warning_time: duration({ max: MAX_LONG_DURATION_MS }).optional(),
    alert_cooldown: duration({ allowZero: true }).optional(),
    webhook_secret: webhookSecret().optional(),
    webhook_timeout: duration().optional(),
    allow_private_webhook_targets: bool().optional(),
  },
  (value, ctx) => {
    // A literal internal address is refused here; host names are checked again on delivery.
    if (typeof value.webhook_url !== "string" || value.allow_private_webhook_targets === true)
      return;
    const url = checkUrl(value.webhook_url, ["http:", "https:"]);
    if (url.ok && isPrivateHost(url.url)) {
      ctx.addIssue({
        code: "custom",
        path: ["webhook_url"],
        message:
          "points at a loopback, private or link-local address; set allow_private_webhook_targets: true to allow it",
      });
    }
  },
).transform((v): MonitoringConfig => {
  const d = defaultMonitoringConfig();
  return defined<MonitoringConfig>({
    webhookUrl: v.webhook_url,
    webhookEvents: v.webhook_events ?? d.webhookEvents,
    alertOnHighFailureRate: v.alert_on_high_failure_rate ?? d.alertOnHighFailureRate,
    failureRateThreshold: v.failure_rate_threshold ?? d.failureRateThreshold,
    alertOnRefreshFailure: v.alert_on_refresh_failure ?? d.alertOnRefreshFailure,
    alertOnExpirySoon: v.alert_on_expiry_soon ?? d.alertOnExpirySoon,
    expiryWarningTime: v.expiry_warning_time ?? d.expiryWarningTime,
    alertCooldown: v.alert_cooldown,
    webhookSecret: v.webhook_secret,
    webhookTimeout: v.webhook_timeout,
    allowPrivateWebhookTargets: v.allow_private_webhook_targets,
  });
});

const backoff = strict({
  jitter: bool().optional(),
  max_cooldown: duration().optional(),
}).transform((v) => defined<BackoffOptions>({ jitter: v.jitter, maxCooldownMs: v.max_cooldown }));

// ---------------------------------------------------------------- scopes, sessions, panic mode

const sessions = strict({
  max_sessions: num({ integer: true, min: 1 }).optional(),
  ttl: duration().optional(),
}).transform((v) => defined<SessionOptions>({ maxSessions: v.max_sessions, ttlMs: v.ttl }));

/** Provider fields for scoped cooldowns, sticky sessions, half-open trials and panic mode. */
const failoverFields = {
  when_all_unavailable: oneOf(["reject", "wait", "least-bad"]).optional(),
  max_wait: duration({ allowZero: true }).optional(),
  half_open: bool().optional(),
  max_scopes: num({ integer: true, min: 1 }).optional(),
  sessions: sessions.optional(),
};

type FailoverFields = {
  [K in keyof typeof failoverFields]?: z.output<(typeof failoverFields)[K]>;
};

function failoverConfig(v: FailoverFields) {
  return {
    whenAllUnavailable: v.when_all_unavailable,
    maxWaitMs: v.max_wait,
    halfOpen: v.half_open,
    maxScopes: v.max_scopes,
    sessions: v.sessions,
  };
}
// ---------------------------------------------------------------- budgets and refresh anomalies

const budgetLimit = strict({
  tokens: num({ min: 0, minExclusive: true }).optional(),
  cost: num({ min: 0, minExclusive: true }).optional(),
});

const budgetLimits = strict({
  hour: budgetLimit.optional(),
  day: budgetLimit.optional(),
  month: budgetLimit.optional(),
}).transform((v): BudgetLimits => {
  const out: BudgetLimits = {};
  for (const window of ["hour", "day", "month"] as const) {
    const limit = v[window];
    if (limit) out[window] = defined({ tokens: limit.tokens, cost: limit.cost });
  }
  return out;
});

const modelPrice = strict({
  input: num({ min: 0 }),
  output: num({ min: 0 }),
}).transform((v): ModelPrice => ({ input: v.input, output: v.output }));

const budgets = strict({
  credential: budgetLimits.optional(),
  credentials: z.record(z.string(), budgetLimits).optional(),
  provider: budgetLimits.optional(),
  prices: z.record(z.string(), modelPrice).optional(),
  alert_at: num({ min: 0, minExclusive: true, max: 1 }).optional(),
  enforce: bool().optional(),
  flush_interval: duration().optional(),
}).transform(
  (v): BudgetOptions =>
    defined<BudgetOptions>({
      credential: v.credential,
      credentials: v.credentials,
      provider: v.provider,
      prices: v.prices,
      alertAt: v.alert_at,
      enforce: v.enforce,
      flushIntervalMs: v.flush_interval,
    }),
);

const refreshAnomaly = strict({
  min_refreshes: num({ integer: true, min: 2 }).optional(),
  window: duration().optional(),
  factor: num({ min: 0, minExclusive: true }).optional(),
  refresh_token_max_idle: duration({ max: MAX_LONG_DURATION_MS }).optional(),
}).transform(
  (v): RefreshAnomalyOptions =>
    defined<RefreshAnomalyOptions>({
      minRefreshes: v.min_refreshes,
      windowMs: v.window,
      factor: v.factor,
      refreshTokenMaxIdleMs: v.refresh_token_max_idle,
    }),
);

// ---------------------------------------------------------------- gateway fields

const authFields = strict({
  header: str({ nonEmpty: true, pattern: [HEADER_NAME, "be an HTTP header name"] }),
  template: str({
    pattern: [
      /^[^\r\n\0]*\{token\}[^\r\n\0]*$/,
      'contain "{token}" (where the token goes) and no line breaks',
    ],
  }).optional(),
}).transform((v): AuthScheme => ({ header: v.header, template: v.template ?? "{token}" }));

const auth = z.unknown().transform((value, ctx): AuthScheme => {
  if (isRecord(value)) return subParse(authFields, value, ctx);
  const name = checkOneOf(value, AUTH_NAMES);
  if (name.ok) return name.value;
  ctx.addIssue({ code: "custom", message: `${name.message}, or a mapping { header, template }` });
  return z.NEVER;
});

const headers = z
  .record(z.string(), str({ pattern: [NO_LINE_BREAK, "not contain line breaks"] }))
  .superRefine(
    (value, ctx) => {
      if (!isRecord(value)) return;
      for (const key of Object.keys(value)) {
        if (!HEADER_NAME.test(key)) {
          ctx.addIssue({ code: "custom", path: [key], message: "not a valid HTTP header name" });
        }
      }
    },
    { when: () => true },
  );

// ---------------------------------------------------------------- login

/** Where `oauthmanager login` signs in, over the preset's endpoints (a test's local server). */
const login = strict({
  authorization_url: httpUrl().optional(),
  device_authorization_url: httpUrl().optional(),
  client_id: str({ nonEmpty: true }).optional(),
  client_secret: secret().optional(),
  scopes: scopes().optional(),
  redirect_uri: httpUrl().optional(),
}).transform(
  (v): LoginConfig =>
    defined<LoginConfig>({
      authorizationUrl: v.authorization_url,
      deviceAuthorizationUrl: v.device_authorization_url,
      clientId: v.client_id,
      clientSecret: v.client_secret,
      scopes: v.scopes,
      redirectUri: v.redirect_uri,
    }),
);

// ---------------------------------------------------------------- provider

const provider = strict({
  model: str({ nonEmpty: true }).optional(),
  oauth_credentials: z.array(credentialSchema).optional(),
  api_keys: z.array(secret()).optional(),
  refresh_strategy: refreshStrategy.optional(),
  selection: oneOf(SELECTIONS).optional(),
  rotation: rotation.optional(),
  monitoring: monitoring.optional(),
  backoff: backoff.optional(),
  upstream: httpUrl().optional(),
  auth: auth.optional(),
  headers: headers.optional(),
  token_url: httpUrl().optional(),
  client_auth: oneOf(["body", "basic"]).optional(),
  body_format: oneOf(["form", "json"]).optional(),
  ...failoverFields,
  budgets: budgets.optional(),
  refresh_anomaly: refreshAnomaly.optional(),
  source_recheck: duration({ allowZero: true }).optional(),
  login: login.optional(),
}).transform(
  (v): Omit<ProviderConfig, "name"> =>
    defined<Omit<ProviderConfig, "name">>({
      oauthCredentials: v.oauth_credentials ?? [],
      apiKeys: v.api_keys ?? [],
      model: v.model,
      refreshStrategy: v.refresh_strategy,
      selection: v.selection,
      rotationPolicy: v.rotation,
      monitoring: v.monitoring,
      backoff: v.backoff,
      upstream: v.upstream,
      auth: v.auth,
      headers: v.headers,
      tokenUrl: v.token_url,
      clientAuth: v.client_auth,
      bodyFormat: v.body_format,
      ...failoverConfig(v),
      budgets: v.budgets,
      refreshAnomaly: v.refresh_anomaly,
      sourceRecheckMs: v.source_recheck,
      login: v.login,
    }),
);

const providers = z
  .record(z.string(), provider)
  .superRefine(
    (value, ctx) => {
      if (!isRecord(value)) return;
      const names = Object.keys(value);
      if (names.length === 0) {
        ctx.addIssue({ code: "custom", message: "at least one provider is required" });
      }
      for (const name of names) {
        if (!PROVIDER_NAME.test(name)) {
          ctx.addIssue({
            code: "custom",
            path: [name],
            message:
              "a provider name must be 1 to 64 of a-z, 0-9, _ and - (it is used in metric labels and URL paths)",
          });
        }
      }
    },
    { when: () => true },
  )
  .transform(
    (value): Record<string, ProviderConfig> =>
      Object.fromEntries(Object.entries(value).map(([name, p]) => [name, { name, ...p }])),
  );

// ---------------------------------------------------------------- store and server

const storeTypeField = z.unknown();

/** A file store's key, checked as the store itself will check it, so a bad one fails here. */
const encryptionKey = () =>
  field((value): Checked<string> => {
    const s = checkString(value, { nonEmpty: true });
    if (!s.ok) return s;
    try {
      parseEncryptionKey(s.value, "encryption_key");
      return s;
    } catch (err) {
      // Its messages describe the value's length and form, never the value.
      if (err instanceof ConfigError)
        return { ok: false, message: err.issues[0]?.message ?? "not a valid AES-256 key" };
      throw err;
    }
  });

const storeSchemas = {
  memory: strict({ type: storeTypeField }).transform((): StoreConfig => ({ type: "memory" })),
  file: strict({
    type: storeTypeField,
    path: str({ nonEmpty: true }),
    encryption_key: encryptionKey().optional(),
  }).transform(
    (v): StoreConfig => defined({ type: "file", path: v.path, encryptionKey: v.encryption_key }),
  ),
  redis: strict({
    type: storeTypeField,
    // A Redis URL may carry the password; it is never quoted in a message.
    url: field((value): Checked<string> => {
      const s = checkString(value, { nonEmpty: true });
      if (!s.ok) return s;
      const url = checkUrl(s.value, ["redis:", "rediss:"], { allowUserinfo: true });
      return url.ok ? s : url;
    }),
    prefix: str().optional(),
  }).transform((v): StoreConfig => defined({ type: "redis", url: v.url, prefix: v.prefix })),
} as const;

const store = z.unknown().transform((value, ctx): StoreConfig => {
  if (!isRecord(value)) {
    ctx.addIssue({
      code: "custom",
      message: "expected a mapping with type: memory, file or redis",
    });
    return z.NEVER;
  }
  const type = checkOneOf(value.type, STORE_TYPES);
  if (!type.ok) {
    ctx.addIssue({ code: "custom", path: ["type"], message: type.message });
    return z.NEVER;
  }
  return subParse<StoreConfig>(storeSchemas[type.value], value, ctx);
});

const server = strict({
  client_keys: z.array(secret()).optional(),
  admin_key: secret().optional(),
  host: str({ nonEmpty: true }).optional(),
  port: num({ integer: true, min: 0, max: 65_535 }).optional(),
  max_body_bytes: num({ integer: true, min: 0, max: MAX_BODY_BYTES_LIMIT }).optional(),
  upstream_timeout: duration().optional(),
  stream_idle_timeout: duration().optional(),
  drain_timeout: duration({ allowZero: true }).optional(),
}).transform(
  (v): ServerConfig =>
    defined<ServerConfig>({
      clientKeys: v.client_keys ?? [],
      adminKey: v.admin_key,
      host: v.host,
      port: v.port,
      maxBodyBytes: v.max_body_bytes,
      upstreamTimeoutMs: v.upstream_timeout,
      streamIdleTimeoutMs: v.stream_idle_timeout,
      drainTimeoutMs: v.drain_timeout,
    }),
);

/**
 * A provider needs credentials in the file, unless a store can hold them: the logins that
 * `oauthmanager login` and `import` add live there.
 */
function requireCredentials(root: Record<string, unknown>, ctx: z.core.$RefinementCtx): void {
  if (root.store !== undefined || !isRecord(root.providers)) return;
  const none = (list: unknown) => list === undefined || (Array.isArray(list) && list.length === 0);
  for (const [name, value] of Object.entries(root.providers)) {
    // Parsed providers arrive camelCase; one that failed to parse, as written.
    if (!isRecord(value)) continue;
    const creds = value.oauthCredentials ?? value.oauth_credentials;
    if (none(creds) && none(value.apiKeys ?? value.api_keys)) {
      ctx.addIssue({
        code: "custom",
        path: ["providers", name],
        message:
          "has no credentials: give at least one entry in oauth_credentials or api_keys, or a store for logins added with oauthmanager login or import",
      });
    }
  }
}

/** The whole document. */
export const configSchema = strict(
  {
    providers,
    store: store.optional(),
    server: server.optional(),
  },
  requireCredentials,
).transform(
  (v): OAuthManagerConfig =>
    defined<OAuthManagerConfig>({ providers: v.providers, store: v.store, server: v.server }),
);

/**
 * One provider's route: for the credential a request got, the upstream origin and path prefix,
 * and the headers that present it (auth, the provider's required headers, the configured extras).
 * @module
 */
import { apiKeyId } from "../config/cross-checks.js";
import type { ProviderConfig } from "../config/types.js";
import { ConfigError } from "../errors.js";
import { checkedToken, type ResolvedAuth, resolveAuthStyle } from "../providers/auth.js";
import { isPresetProvider } from "../providers/catalog.js";
import type { OAuthCredentialSet } from "../types.js";
import { GATEWAY_PRESETS, type UpstreamPreset } from "./presets.js";

/** Where one request goes. */
export interface Target {
  /** `https://host:port` */
  readonly origin: string;
  /** The upstream's path prefix without a trailing slash (`""` for none). */
  readonly basePath: string;
}

/** How one kind of credential is sent, resolved once. */
interface Kind {
  readonly target: Target;
  readonly auth: ResolvedAuth;
  readonly upstreamFor: ((cred: Readonly<OAuthCredentialSet>) => string | undefined) | undefined;
  readonly presetHeaders:
    | ((cred: Readonly<OAuthCredentialSet>) => Record<string, string>)
    | undefined;
}

/** Headers merged into a list rather than replaced: a client's betas and the preset's both count. */
const LIST_HEADERS: ReadonlySet<string> = new Set(["anthropic-beta"]);

/** Per-account upstreams parsed so far; bounded, since they come from token answers. */
const MAX_CACHED_TARGETS = 1_000;

/** One provider's route. */
export class ProviderRoute {
  readonly name: string;
  readonly #oauth: Kind;
  readonly #apiKey: Kind;
  readonly #apiKeyIds: ReadonlySet<string>;
  readonly #extra: readonly (readonly [string, string])[];
  readonly #targets = new Map<string, Target>();
  /**
   * A credential as the pool hands it out → its auth header's value. The pool hands out a new
   * frozen object whenever a credential changes (a refreshed token), so an entry lives exactly as
   * long as its token is in use, and no token outlives its credential here.
   */
  readonly #presented = new WeakMap<Readonly<OAuthCredentialSet>, string>();

  /**
   * @throws {ConfigError} when a provider without a preset has no `upstream`
   */
  constructor(name: string, config: ProviderConfig) {
    this.name = name;
    const preset = isPresetProvider(name) ? GATEWAY_PRESETS[name] : undefined;
    if (preset === undefined && config.upstream === undefined) {
      throw new ConfigError([
        {
          path: `providers.${name}.upstream`,
          message: "is required for the gateway: only gemini, qwen, anthropic and openai have one",
        },
      ]);
    }
    const fallback: UpstreamPreset = { upstream: config.upstream ?? "", auth: "bearer" };
    this.#oauth = kind(preset?.oauth ?? fallback, config);
    this.#apiKey = kind(preset?.apiKey ?? fallback, config);
    this.#apiKeyIds = new Set(config.apiKeys.map((_, i) => apiKeyId(i)));
    this.#extra = Object.entries(config.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]);
  }

  /** The origin and path prefix for `cred`. */
  target(cred: Readonly<OAuthCredentialSet>): Target {
    const kind = this.#kindOf(cred);
    const own = kind.upstreamFor?.(cred);
    if (own === undefined) return kind.target;
    let target = this.#targets.get(own);
    if (target === undefined) {
      target = parseTarget(own);
      if (this.#targets.size >= MAX_CACHED_TARGETS) this.#targets.clear();
      this.#targets.set(own, target);
    }
    return target;
  }

  /**
   * Adds to `headers` (lower-case names, the client's already in) what presents `cred`: the
   * provider's required headers, the configured ones, then the credential itself, which nothing
   * else can override.
   * @throws {Error} (plain, so the pool fails over) when the token cannot go in a header
   */
  present(cred: Readonly<OAuthCredentialSet>, headers: Record<string, string | string[]>): void {
    const kind = this.#kindOf(cred);
    if (kind.presetHeaders) {
      for (const [name, value] of Object.entries(kind.presetHeaders(cred))) {
        setHeader(headers, name, value);
      }
    }
    for (const [name, value] of this.#extra) setHeader(headers, name, value);
    headers[kind.auth.header] = this.#authValue(kind, cred);
  }

  /**
   * The auth header's value for `cred`, checked and built once per token rather than per
   * request: an OAuth access token can be kilobytes long, and checking it is a scan of all of it.
   */
  #authValue(kind: Kind, cred: Readonly<OAuthCredentialSet>): string {
    const known = this.#presented.get(cred);
    if (known !== undefined) return known;
    let token: string;
    try {
      token = checkedToken(cred.accessToken);
    } catch (err) {
      throw new Error(`the pooled token cannot be sent: ${(err as Error).message}`);
    }
    const value = kind.auth.value(token);
    // Frozen objects only: a caller's own mutable object could change its token under the entry.
    if (Object.isFrozen(cred)) this.#presented.set(cred, value);
    return value;
  }

  #kindOf(cred: Readonly<OAuthCredentialSet>): Kind {
    return this.#apiKeyIds.has(cred.id) ? this.#apiKey : this.#oauth;
  }
}

function kind(preset: UpstreamPreset, config: ProviderConfig): Kind {
  // What the configuration says wins over the preset, for every credential of the provider.
  const upstream = config.upstream ?? preset.upstream;
  return {
    target: parseTarget(upstream),
    auth: resolveAuthStyle(config.auth ?? preset.auth),
    upstreamFor: config.upstream === undefined ? preset.upstreamFor : undefined,
    presetHeaders: preset.headers,
  };
}

function parseTarget(upstream: string): Target {
  const url = new URL(upstream);
  return { origin: url.origin, basePath: url.pathname.replace(/\/+$/, "") };
}

function setHeader(headers: Record<string, string | string[]>, name: string, value: string): void {
  const current = headers[name];
  if (current === undefined || !LIST_HEADERS.has(name)) {
    headers[name] = value;
    return;
  }
  const items = (Array.isArray(current) ? current.join(",") : current)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of value.split(",").map((s) => s.trim())) {
    if (item !== "" && !items.includes(item)) items.push(item);
  }
  headers[name] = items.join(",");
}

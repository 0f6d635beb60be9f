/**
 * `createManagers`: one `OAuthKeyManager` per configured provider.
 * @module
 */
import { ConfigError, type ConfigIssue } from "../errors.js";
import { OAuthKeyManager } from "../manager/oauth-key-manager.js";
import type { OAuthKeyManagerOptions } from "../manager/options.js";
import { oauth2Refresh } from "../providers/oauth2.js";
import { presetRefresh } from "../providers/presets.js";
import type { TokenStore } from "../stores/types.js";
import type { OAuthCredentialSet, RefreshFunc } from "../types.js";
import { apiKeyId } from "./cross-checks.js";
import { describe } from "./fields.js";
import type { OAuthManagerConfig, ProviderConfig } from "./types.js";

/** Options of {@link createManagers}. */
export interface CreateManagersOptions {
  /**
   * Refresh functions by provider name; each wins over the one built from the configuration.
   * Without one, a provider named `gemini`, `qwen`, `anthropic` or `openai` refreshes through its
   * preset, and any other through `oauth2Refresh` from its `token_url` (with `client_auth` and
   * `body_format`); a provider with neither cannot refresh its tokens.
   */
  refreshFuncs?: Record<string, RefreshFunc>;
  /** One store shared by every manager; each keys its tokens by `<provider>/<credentialId>`. */
  store?: TokenStore;
}

/**
 * The credentials a provider's manager starts with: its OAuth credentials, then its API keys as
 * credentials `key-1`, `key-2`, … (in order) whose access token is the key.
 */
export function providerCredentials(provider: ProviderConfig): OAuthCredentialSet[] {
  return [
    ...provider.oauthCredentials.map((cred) => ({
      ...cred,
      ...(cred.scopes ? { scopes: [...cred.scopes] } : {}),
      ...(cred.providerData ? { providerData: { ...cred.providerData } } : {}),
    })),
    ...provider.apiKeys.map((key, i) => ({ id: apiKeyId(i), accessToken: key })),
  ];
}

function managerOptions(provider: ProviderConfig, store: TokenStore | undefined) {
  const options: OAuthKeyManagerOptions = {};
  if (provider.selection !== undefined) options.selection = provider.selection;
  if (provider.backoff !== undefined) options.backoff = { ...provider.backoff };
  if (provider.refreshStrategy !== undefined)
    options.refreshStrategy = { ...provider.refreshStrategy };
  if (provider.rotationPolicy !== undefined)
    options.rotationPolicy = { ...provider.rotationPolicy };
  if (provider.monitoring !== undefined) {
    options.monitoring = {
      ...provider.monitoring,
      webhookEvents: [...provider.monitoring.webhookEvents],
    };
  }
  if (store !== undefined) options.store = store;
  copyFailoverOptions(provider, options);
  return options;
}

/** Scoped cooldowns, sticky sessions, half-open trials and panic mode, where configured. */
function copyFailoverOptions(provider: ProviderConfig, options: OAuthKeyManagerOptions): void {
  if (provider.whenAllUnavailable !== undefined) {
    options.whenAllUnavailable = provider.whenAllUnavailable;
  }
  if (provider.maxWaitMs !== undefined) options.maxWaitMs = provider.maxWaitMs;
  if (provider.halfOpen !== undefined) options.halfOpen = provider.halfOpen;
  if (provider.maxScopes !== undefined) options.maxScopes = provider.maxScopes;
  if (provider.sessions !== undefined) options.sessions = { ...provider.sessions };
}

/**
 * The refresher a provider gets from its configuration: `token_url` (with `client_auth` and
 * `body_format`) for any provider, on top of the preset for the four known names.
 */
export function configuredRefresh(name: string, provider: ProviderConfig): RefreshFunc | undefined {
  const overrides: { clientAuth?: "body" | "basic"; bodyFormat?: "form" | "json" } = {};
  if (provider.clientAuth !== undefined) overrides.clientAuth = provider.clientAuth;
  if (provider.bodyFormat !== undefined) overrides.bodyFormat = provider.bodyFormat;
  const { tokenUrl } = provider;
  const preset = presetRefresh(
    name,
    tokenUrl === undefined ? overrides : { ...overrides, tokenUrl },
  );
  if (preset !== undefined) return preset;
  return tokenUrl === undefined ? undefined : oauth2Refresh({ ...overrides, tokenUrl });
}

/**
 * Builds one {@link OAuthKeyManager} per provider of a configuration from {@link parseConfig}.
 * Each gets the provider's selection, backoff, refresh strategy, rotation policy and monitoring,
 * `options.store`, and a refresher: `options.refreshFuncs[name]`, else the one its configuration
 * gives (see {@link CreateManagersOptions.refreshFuncs}). Managers are not started: call `start()` on
 * each for background upkeep, and `close()` when done.
 *
 * @returns Managers by provider name, in configuration order.
 * @throws {ConfigError} when `refreshFuncs` names a provider that is not configured, or a
 *   manager rejects its credentials.
 * @throws {TypeError} when `config` is not a configuration or a refresh function is not a function.
 * @example
 * ```ts
 * const managers = createManagers(await loadConfig("oauthmanager.yaml"), {
 *   refreshFuncs: { internal: myRefresh }, // gemini, qwen, anthropic, openai refresh by themselves
 *   store: new FileTokenStore({ path: "tokens.json" }),
 * });
 * ```
 */
export function createManagers(
  config: OAuthManagerConfig,
  options: CreateManagersOptions = {},
): Map<string, OAuthKeyManager> {
  if (typeof config !== "object" || config === null || typeof config.providers !== "object") {
    throw new TypeError(
      `Expected \`config\` to be a parsed configuration, got ${describe(config)}`,
    );
  }
  const refreshFuncs = options.refreshFuncs ?? {};
  const issues: ConfigIssue[] = [];
  for (const [name, fn] of Object.entries(refreshFuncs)) {
    if (typeof fn !== "function") {
      throw new TypeError(
        `Expected \`refreshFuncs.${name}\` to be a function, got ${describe(fn)}`,
      );
    }
    if (!Object.hasOwn(config.providers, name)) {
      issues.push({
        path: `refreshFuncs.${name}`,
        message: `no provider named "${name}" is configured`,
      });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);

  const managers = new Map<string, OAuthKeyManager>();
  try {
    for (const [name, provider] of Object.entries(config.providers)) {
      const refresh = Object.hasOwn(refreshFuncs, name)
        ? refreshFuncs[name]
        : configuredRefresh(name, provider);
      managers.set(
        name,
        new OAuthKeyManager(
          name,
          providerCredentials(provider),
          refresh,
          managerOptions(provider, options.store),
        ),
      );
    }
  } catch (err) {
    // Nothing was started, but close what exists so no half-built set is left behind.
    for (const manager of managers.values()) void manager.close().catch(() => {});
    throw err;
  }
  return managers;
}

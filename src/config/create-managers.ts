/**
 * `createManagers`: one `OAuthKeyManager` per configured provider.
 * @module
 */
import { ConfigError, type ConfigIssue } from "../errors.js";
import { OAuthKeyManager } from "../manager/oauth-key-manager.js";
import type { OAuthKeyManagerOptions } from "../manager/options.js";
import type { TokenStore } from "../stores/types.js";
import type { OAuthCredentialSet, RefreshFunc } from "../types.js";
import { apiKeyId } from "./cross-checks.js";
import { describe } from "./fields.js";
import type { OAuthManagerConfig, ProviderConfig } from "./types.js";

/** Options of {@link createManagers}. */
export interface CreateManagersOptions {
  /** Refresh functions by provider name. A provider without one cannot refresh its tokens. */
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
  return options;
}

/**
 * Builds one {@link OAuthKeyManager} per provider of a configuration from {@link parseConfig}.
 * Each gets the provider's selection, backoff, refresh strategy, rotation policy and monitoring,
 * `options.store` and `options.refreshFuncs[name]`. Managers are not started: call `start()` on
 * each for background upkeep, and `close()` when done.
 *
 * @returns Managers by provider name, in configuration order.
 * @throws {ConfigError} when `refreshFuncs` names a provider that is not configured, or a
 *   manager rejects its credentials.
 * @throws {TypeError} when `config` is not a configuration or a refresh function is not a function.
 * @example
 * ```ts
 * const managers = createManagers(await loadConfig("oauthmanager.yaml"), {
 *   refreshFuncs: { gemini: geminiRefresh() },
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
      const refresh = Object.hasOwn(refreshFuncs, name) ? refreshFuncs[name] : undefined;
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

/**
 * What one configuration serves with: managers and routes per provider, the token store, the
 * keys. A reload builds the next state from the previous one, keeping every manager whose
 * provider did not change (its health, metrics, tokens and disabled credentials with it), and
 * retires the old state once its requests in flight are done.
 * @module
 */
import { isDeepStrictEqual } from "node:util";
import { createManagers } from "../config/create-managers.js";
import { createStore } from "../config/create-store.js";
import { addStoredCredentials } from "../config/stored-credentials.js";
import type { OAuthManagerConfig, ProviderConfig, StoreConfig } from "../config/types.js";
import { ConfigError, type ConfigIssue } from "../errors.js";
import type { OAuthKeyManager } from "../manager/oauth-key-manager.js";
import { MemoryTokenStore } from "../stores/memory-store.js";
import type { TokenStore } from "../stores/types.js";
import { KeyRing } from "./client-keys.js";
import { ProviderRoute } from "./route.js";
import { type GatewaySettings, gatewaySettings } from "./settings.js";

/** Paths the gateway answers itself: no provider may be named like them. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  "admin",
  "status",
  "metrics",
  "healthz",
  "readyz",
]);

/** One provider as the gateway serves it: what each of its proxied requests needs. */
export interface ServedProvider {
  readonly config: ProviderConfig;
  readonly manager: OAuthKeyManager;
  readonly route: ProviderRoute;
  /** The state's settings. */
  readonly settings: GatewaySettings;
}

/** Everything one configuration serves with. */
export class GatewayState {
  readonly config: OAuthManagerConfig;
  readonly providers: ReadonlyMap<string, ServedProvider>;
  readonly managers: ReadonlyMap<string, OAuthKeyManager>;
  readonly store: TokenStore;
  readonly clientKeys: KeyRing;
  readonly adminKeys: KeyRing | undefined;
  readonly settings: GatewaySettings;
  /** Requests that started on this state and have not ended. */
  inFlight = 0;
  #idle: (() => void) | undefined;

  constructor(
    config: OAuthManagerConfig,
    providers: Map<string, ServedProvider>,
    store: TokenStore,
    settings: GatewaySettings,
  ) {
    this.config = config;
    this.providers = providers;
    this.managers = new Map([...providers].map(([name, p]) => [name, p.manager]));
    this.store = store;
    const server = config.server;
    this.clientKeys = new KeyRing(server?.clientKeys ?? []);
    this.adminKeys = server?.adminKey === undefined ? undefined : new KeyRing([server.adminKey]);
    this.settings = settings;
  }

  /** A request started on this state. */
  enter(): void {
    this.inFlight++;
  }

  /** A request that started on this state ended. */
  leave(): void {
    this.inFlight--;
    if (this.inFlight === 0) {
      this.#idle?.();
      this.#idle = undefined;
    }
  }

  /** Resolves once no request is in flight on this state. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const before = this.#idle;
      this.#idle = () => {
        before?.();
        resolve();
      };
    });
  }
}

/** What a new state takes over, and what is left to close once the old state is idle. */
export interface Transition {
  readonly state: GatewayState;
  /** Managers of the previous state that the new one does not use. */
  readonly retiredManagers: OAuthKeyManager[];
  /** The previous store, when the new state has another. */
  readonly retiredStore: TokenStore | undefined;
}

/**
 * Builds the state for `config`, taking over from `previous` what did not change. The logins a
 * configured store holds (`oauthmanager login`, `import`) join their provider's pool, those
 * added since the previous state included.
 * @throws {ConfigError} when the configuration cannot serve as a gateway (no client key, a
 *   reserved or unroutable provider), or a manager refuses its credentials
 * @throws the store's error when its logins cannot be read
 */
export async function buildState(
  config: OAuthManagerConfig,
  previous: GatewayState | undefined,
): Promise<Transition> {
  checkServable(config);
  const sameStore =
    previous !== undefined && isDeepStrictEqual(previous.config.store, config.store);
  // Without a store section the tokens live in memory, still shared across reloads: a manager
  // built anew must not go back to a refresh token its predecessor already spent.
  const store = sameStore ? previous.store : storeFor(config.store);
  const settings = gatewaySettings(config.server);
  const providers = new Map<string, ServedProvider>();
  const created: OAuthKeyManager[] = [];
  const replaced: [OAuthKeyManager, OAuthKeyManager][] = [];
  try {
    for (const [name, provider] of Object.entries(config.providers)) {
      const route = new ProviderRoute(name, provider);
      const before = previous?.providers.get(name);
      if (sameStore && before !== undefined && isDeepStrictEqual(before.config, provider)) {
        providers.set(name, { config: provider, manager: before.manager, route, settings });
        continue;
      }
      const manager = createManagers({ providers: { [name]: provider } }, { store }).get(name);
      if (manager === undefined) throw new Error(`no manager was built for ${name}`);
      created.push(manager);
      if (before !== undefined) replaced.push([before.manager, manager]);
      providers.set(name, { config: provider, manager, route, settings });
    }
    // Only a configured store: the memory one holds nothing but the configured credentials'
    // tokens, and would bring back a credential the new file no longer lists.
    if (config.store !== undefined) {
      const managers = new Map([...providers].map(([name, p]) => [name, p.manager]));
      await addStoredCredentials(config, managers, store);
    }
    for (const [from, to] of replaced) carryDisabled(from, to);
  } catch (err) {
    for (const manager of created) void manager.close().catch(() => {});
    if (!sameStore) void store.close().catch(() => {});
    throw err;
  }
  for (const manager of created) manager.start();
  const kept = new Set([...providers.values()].map((p) => p.manager));
  const retiredManagers = previous
    ? [...previous.managers.values()].filter((m) => !kept.has(m))
    : [];
  return {
    state: new GatewayState(config, providers, store, settings),
    retiredManagers,
    retiredStore: previous !== undefined && !sameStore ? previous.store : undefined,
  };
}

function storeFor(config: StoreConfig | undefined): TokenStore {
  return createStore(config) ?? new MemoryTokenStore();
}

/** An operator's disabled credentials stay disabled in the manager that replaces theirs. */
function carryDisabled(from: OAuthKeyManager, to: OAuthKeyManager): void {
  for (const { id } of to.getCredentials()) {
    if (from.isCredentialDisabled(id)) to.disableCredential(id);
  }
}

function checkServable(config: OAuthManagerConfig): void {
  const issues: ConfigIssue[] = [];
  if ((config.server?.clientKeys.length ?? 0) === 0) {
    issues.push({
      path: "server.client_keys",
      message: "the gateway needs at least one client key: it refuses to serve without one",
    });
  }
  for (const name of Object.keys(config.providers)) {
    if (RESERVED_NAMES.has(name)) {
      issues.push({
        path: `providers.${name}`,
        message: `"${name}" is a path the gateway answers itself; give the provider another name`,
      });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
}

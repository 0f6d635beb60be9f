/**
 * What the commands share about the configuration file: the `--config` option, and opening the
 * pool it describes (the managers over the config's store, not started).
 * @module
 */
import { createManagers } from "../config/create-managers.js";
import { createStore } from "../config/create-store.js";
import { loadConfig } from "../config/parse.js";
import { addStoredCredentials } from "../config/stored-credentials.js";
import type { OAuthManagerConfig } from "../config/types.js";
import type { OAuthKeyManager } from "../manager/oauth-key-manager.js";
import type { TokenStore } from "../stores/types.js";
import { type OptionSpec, type OptionValues, UsageError } from "./args.js";

/** `--config FILE`, `-c FILE`. */
export const CONFIG_OPTION: OptionSpec = {
  type: "string",
  short: "c",
  valueName: "FILE",
  description: "the configuration file",
};

/** A string option's value, or undefined when not given. */
export const stringOption = (values: OptionValues, name: string): string | undefined => {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
};

/**
 * The `--config` file of a command that needs one.
 * @throws {UsageError} when it is missing
 */
export function requireConfig(command: string, values: OptionValues): string {
  const path = stringOption(values, "config");
  if (path === undefined) {
    throw new UsageError(`${command} needs a configuration file: --config FILE`, command);
  }
  return path;
}

/**
 * Refuses more arguments than a command takes.
 * @throws {UsageError}
 */
export function atMost(command: string, args: readonly string[], max: number, what: string): void {
  if (args.length > max) {
    throw new UsageError(`${command} takes at most ${what}, got ${args.length} arguments`, command);
  }
}

/** The managers a configuration builds, over its store, with the store's logins added. */
export interface Pool {
  config: OAuthManagerConfig;
  store: TokenStore | undefined;
  managers: Map<string, OAuthKeyManager>;
  /** Closes the managers, then the store. */
  close(): Promise<void>;
}

/**
 * Loads `path` and builds its managers (not started: no upkeep runs), with the logins its store
 * holds, each manager's store records loaded.
 * @throws {ConfigError} for an unreadable or invalid file; the store's error when it cannot be read
 */
export async function openPool(path: string): Promise<Pool> {
  const config = await loadConfig(path);
  const store = createStore(config.store);
  const managers = createManagers(config, store ? { store } : {});
  const close = async () => {
    await Promise.allSettled([...managers.values()].map((m) => m.close()));
    await store?.close();
  };
  try {
    if (store) await addStoredCredentials(config, managers, store);
    for (const manager of managers.values()) await manager.ready();
  } catch (err) {
    await close();
    throw err;
  }
  return { config, store, managers, close };
}

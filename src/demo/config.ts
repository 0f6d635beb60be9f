/**
 * The demo's configuration: one provider in front of the simulated one, three OAuth credentials
 * whose first tokens are close to expiry, and a client key made for this run. Written as the
 * YAML a user would write and read by the same parser, so the demo runs what `serve` would.
 * @module
 */
import { randomBytes } from "node:crypto";
import { stringify } from "yaml";
import { parseConfig } from "../config/parse.js";
import type { OAuthManagerConfig } from "../config/types.js";
import type { SimulatedProvider } from "./simulated-provider.js";

/** The provider's name in the configuration, and so the gateway's path prefix. */
export const DEMO_PROVIDER = "sim";

/** The credentials' ids, and how long each one's first access token has left. */
export const DEMO_ACCOUNTS: readonly (readonly [id: string, expiresInMs: number])[] = [
  // Inside the refresh buffer already: refreshed before its first use.
  ["account-a", 2_000],
  ["account-b", 8_000],
  ["account-c", 13_000],
];

/** Refresh this long before expiry: tokens live 20 s, so each is used 15 s, then replaced. */
const REFRESH_BUFFER = "5s";

/** A new random client key: printing it is harmless, it opens nothing once the demo ends. */
export function demoClientKey(): string {
  return `demo-${randomBytes(18).toString("base64url")}`;
}

/** The configuration, with each account signed up at `sim` for its first tokens. */
export function demoConfig(sim: SimulatedProvider, clientKey: string): OAuthManagerConfig {
  const credentials = DEMO_ACCOUNTS.map(([id, expiresInMs]) => {
    const tokens = sim.signUp(id, expiresInMs);
    return {
      id,
      access_token: tokens.accessToken,
      refresh_token: tokens.refreshToken,
      expires_at: tokens.expiresAt.toISOString(),
    };
  });
  const yaml = stringify({
    server: {
      client_keys: [clientKey],
      // The simulated answers take milliseconds; anything slower is a fault worth showing.
      upstream_timeout: "10s",
      drain_timeout: "2s",
    },
    providers: {
      [DEMO_PROVIDER]: {
        upstream: sim.origin,
        token_url: sim.tokenUrl,
        refresh_strategy: { buffer_time: REFRESH_BUFFER },
        oauth_credentials: credentials,
      },
    },
  });
  // No environment: nothing of the user's shell may change what the demo runs.
  return parseConfig(yaml, {});
}

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

/**
 * How long the simulated provider's access tokens live. The pool refreshes a credential at most
 * every 30 s (so that a token endpoint handing out nearly expired tokens cannot make every request
 * refresh): a token is used 30 s, then refreshed {@link REFRESH_BUFFER} before it expires.
 */
export const DEMO_TOKEN_LIFETIME_MS = 40_000;
const REFRESH_BUFFER = "10s";

/** The credentials' ids, and how long each one's first access token has left. */
export const DEMO_ACCOUNTS: readonly (readonly [id: string, expiresInMs: number])[] = [
  // Inside the refresh buffer already: refreshed before its first use.
  ["account-a", 3_000],
  // The pool refreshes ahead of the buffer, up to a buffer earlier: these two a few seconds
  // into the run, one after the other.
  ["account-b", 25_000],
  ["account-c", 31_000],
];

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

/**
 * The comparators of section 5: what people build instead of oauthmanager, each as a round-robin
 * pool of `n` credentials doing the work `executeWithFailover(op)` does on the happy path — take
 * the next credential, get its token, run the same `op` with it, through that credential's
 * client or breaker.
 * @module
 */
import { readFileSync } from "node:fs";
import { ConsecutiveBreaker, circuitBreaker, handleAll } from "cockatiel";
import { OAuth2Client } from "google-auth-library";
import type { OAuthCredentialSet, OperationResult } from "oauthmanager";
import CircuitBreaker from "opossum";
import { freshCredentials, op } from "./fixtures.js";

/** The compared libraries, in the order the report prints them. */
export const PEERS = ["google-auth-library", "cockatiel", "opossum"] as const;
export type Peer = (typeof PEERS)[number];

/** `n` credentials behind one library, taken in turn. */
export interface PeerPool {
  /** One request on the next credential. */
  call(): Promise<OperationResult<string>>;
  /** Stops the library's timers, if it has any. */
  close(): void;
}

/** A breaker that stays closed for the whole run (op never fails); the figures only fix its shape. */
const HALF_OPEN_AFTER_MS = 10_000;
const FAILURES_TO_OPEN = 5;

/** Builds a pool of `n` fresh credentials behind `peer`. */
export function peerPool(peer: Peer, n: number): PeerPool {
  const credentials = freshCredentials(n);
  switch (peer) {
    case "google-auth-library":
      return googlePool(credentials);
    case "cockatiel":
      return cockatielPool(credentials);
    case "opossum":
      return opossumPool(credentials);
  }
}

/** `name version` of each compared library as installed, for the report's header. */
export function peerVersions(): string {
  return PEERS.map((peer) => {
    // The packages' `exports` do not all expose package.json, so read it from node_modules.
    const url = new URL(`../node_modules/${peer}/package.json`, import.meta.url);
    const { version } = JSON.parse(readFileSync(url, "utf8")) as { version: string };
    return `${peer} ${version}`;
  }).join(", ");
}

function roundRobin<T>(items: readonly T[]): () => T {
  let i = -1;
  return () => {
    i = i + 1 === items.length ? 0 : i + 1;
    return items[i]!;
  };
}

/**
 * A benchmark must never reach the network: a token refresh would go to Google's real endpoint.
 * Every token is fresh for a year, so `getAccessToken()` answers from its cache; if it ever tried
 * a request, this fails the run instead.
 */
const refuseNetwork: typeof fetch = async () => {
  throw new Error("google-auth-library tried a network request: the benchmark allows none");
};

/** One OAuth2Client per credential, `await client.getAccessToken()` per call. */
function googlePool(credentials: readonly OAuthCredentialSet[]): PeerPool {
  const signal = new AbortController().signal;
  const next = roundRobin(
    credentials.map((cred) => {
      const client = new OAuth2Client({
        transporterOptions: { fetchImplementation: refuseNetwork },
      });
      client.setCredentials({
        access_token: cred.accessToken,
        refresh_token: cred.refreshToken ?? null,
        expiry_date: cred.expiresAt?.getTime() ?? null,
      });
      return { cred, client };
    }),
  );
  return {
    async call() {
      const { cred, client } = next();
      const { token } = await client.getAccessToken();
      // The credential op receives carries this token; a different one would mean a refresh ran.
      if (token !== cred.accessToken) {
        throw new Error(`google-auth-library handed ${cred.id} another token than it was given`);
      }
      return op(cred, signal);
    },
    close() {},
  };
}

/** One cockatiel circuit breaker policy per credential, `policy.execute(...)` per call. */
function cockatielPool(credentials: readonly OAuthCredentialSet[]): PeerPool {
  const next = roundRobin(
    credentials.map((cred) => ({
      cred,
      policy: circuitBreaker(handleAll, {
        halfOpenAfter: HALF_OPEN_AFTER_MS,
        breaker: new ConsecutiveBreaker(FAILURES_TO_OPEN),
      }),
    })),
  );
  return {
    call() {
      const { cred, policy } = next();
      return policy.execute(({ signal }) => op(cred, signal));
    },
    close() {},
  };
}

/** One opossum CircuitBreaker (default options) per credential, `breaker.fire(...)` per call. */
function opossumPool(credentials: readonly OAuthCredentialSet[]): PeerPool {
  const signal = new AbortController().signal;
  const slots = credentials.map((cred) => ({ cred, breaker: new CircuitBreaker(op) }));
  const next = roundRobin(slots);
  return {
    call() {
      const { cred, breaker } = next();
      return breaker.fire(cred, signal);
    },
    close() {
      // Each breaker rotates its rolling-stats buckets on an interval until shut down.
      for (const { breaker } of slots) breaker.shutdown();
    },
  };
}

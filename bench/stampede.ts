/**
 * Section 3: one expired credential and 10,000 concurrent requests. Single flight means one call
 * of the token endpoint, and every request goes on with the token it returns.
 * @module
 */
import { OAuthKeyManager, type Operation } from "oauthmanager";
import { startTokenServer } from "../test/support/token-server.js";

export interface StampedeFigures {
  calls: number;
  tokenEndpointCalls: number;
  successes: number;
  failures: number;
  /** Successful requests whose operation saw the refreshed token. */
  usedNewToken: number;
  wallMs: number;
  /** The first failure's message, if any. */
  firstError: string | undefined;
}

/** Runs `calls` concurrent requests against one credential that expired a minute ago. */
export async function runStampede(
  calls: number,
  endpointDelayMs: number,
): Promise<StampedeFigures> {
  const endpoint = await startTokenServer({ delayMs: endpointDelayMs });
  endpoint.allow("refresh-token");
  const manager = new OAuthKeyManager(
    "stampede",
    [
      {
        id: "expired",
        accessToken: "access-token-stale",
        refreshToken: "refresh-token",
        expiresAt: new Date(Date.now() - 60_000),
      },
    ],
    endpoint.refreshFunc(),
  );
  const sawToken: Operation<string> = async (cred) => ({ result: cred.accessToken });
  try {
    const start = performance.now();
    const settled = await Promise.allSettled(
      Array.from({ length: calls }, () => manager.executeWithFailover(sawToken)),
    );
    const wallMs = performance.now() - start;
    let successes = 0;
    let usedNewToken = 0;
    let firstError: string | undefined;
    for (const s of settled) {
      if (s.status === "fulfilled") {
        successes++;
        // the endpoint issues at-1, at-2, …: the newest is at-<calls>
        if (s.value.result === `at-${endpoint.calls}`) usedNewToken++;
      } else {
        firstError ??= s.reason instanceof Error ? s.reason.message : String(s.reason);
      }
    }
    return {
      calls,
      tokenEndpointCalls: endpoint.calls,
      successes,
      failures: calls - successes,
      usedNewToken,
      wallMs,
      firstError,
    };
  } finally {
    await manager.close();
    await endpoint.close();
  }
}

/** Section 6: what a token endpoint that issues short-lived tokens costs. */
export interface ShortLivedFigures {
  calls: number;
  tokenLifetimeSeconds: number;
  tokenEndpointCalls: number;
  failures: number;
}

/**
 * `calls` sequential requests on one credential whose endpoint issues tokens living
 * `expiresIn` seconds, less than the refresh buffer (5 min): every token is "due" as soon as it
 * arrives, and only the least interval between refreshes keeps each request from refreshing.
 */
export async function runShortLived(calls: number, expiresIn: number): Promise<ShortLivedFigures> {
  const endpoint = await startTokenServer({ expiresIn });
  endpoint.allow("refresh-token");
  const manager = new OAuthKeyManager(
    "short-lived",
    [{ id: "short", accessToken: "", refreshToken: "refresh-token" }],
    endpoint.refreshFunc(),
  );
  const ok: Operation<string> = async (cred) => ({ result: cred.accessToken });
  let failures = 0;
  try {
    for (let i = 0; i < calls; i++) {
      await manager.executeWithFailover(ok).catch(() => failures++);
    }
    return {
      calls,
      tokenLifetimeSeconds: expiresIn,
      tokenEndpointCalls: endpoint.calls,
      failures,
    };
  } finally {
    await manager.close();
    await endpoint.close();
  }
}

/**
 * Section 8: the refresh stampede across processes. Several replicas, each a Node process with its
 * own OAuthKeyManager on one RedisTokenStore, find the same credential expired at the same moment
 * and send their requests at once. The store's lock should let one refresh run in all of them,
 * against a token endpoint that rotates the refresh token and refuses its reuse.
 * @module
 */
import { Redis } from "ioredis";
import { type Child, startChild } from "../test/fixtures/store-child.js";
import { startTokenServer } from "../test/support/token-server.js";
import { answersPing, REDIS_URL, redactUrl } from "./redis.js";

/** How long the whole run may take before the replicas are killed and the section fails. */
const DEADLINE_MS = 60_000;

export interface RedisStampedeFigures {
  url: string;
  processes: number;
  requestsPerProcess: number;
  tokenEndpointCalls: number;
  /** Requests that rejected, over all replicas. */
  failures: number;
  /** Distinct access tokens the requests saw, plus the one each replica found stored at the end. */
  distinctTokens: number;
  /** From `go` to the last replica's answer. */
  wallMs: number;
  /** The first failure's message, if any. */
  firstError: string | undefined;
}

/** What test/fixtures/redis-manager-process.ts prints when its requests have settled. */
interface ReplicaOutcome {
  failed: number;
  tokens: string[];
  errors: string[];
  storedAccessToken?: string;
}

/**
 * Section 8, or undefined when no Redis answers at {@link REDIS_URL}.
 * @param processes replicas started, each with its own manager
 * @param requestsPerProcess concurrent requests each replica sends
 */
export async function runRedisStampede(
  processes: number,
  requestsPerProcess: number,
): Promise<RedisStampedeFigures | undefined> {
  if (!(await answersPing(REDIS_URL))) return undefined;
  // A prefix of this run's own, deleted at the end: the benchmark may share a Redis.
  const prefix = `oauthmanager-bench-stampede:${process.pid}:${Date.now()}:`;
  // The delay lets the replicas' requests pile up behind the one refresh.
  const endpoint = await startTokenServer({ rotate: true, delayMs: 50 });
  endpoint.allow("rt-0");
  const replicas: Child[] = [];
  let deadline: NodeJS.Timeout | undefined;
  try {
    for (let i = 0; i < processes; i++) {
      replicas.push(
        startChild("redis-manager-process.ts", [
          REDIS_URL,
          prefix,
          endpoint.url,
          String(requestsPerProcess),
        ]),
      );
    }
    const timedOut = new Promise<never>((_, reject) => {
      deadline = setTimeout(
        () => reject(new Error(`the replicas did not answer within ${DEADLINE_MS} ms`)),
        DEADLINE_MS,
      );
    });
    // Only raced below; the timer is cleared before it could reject unobserved.
    timedOut.catch(() => {});
    const within = <T>(work: Promise<T>) => Promise.race([work, timedOut]);
    await within(Promise.all(replicas.map((c) => c.waitForLine((l) => l === "ready"))));
    const start = performance.now();
    for (const c of replicas) c.process.stdin?.write("go\n");
    const lines = await within(
      Promise.all(replicas.map((c) => c.waitForLine((l) => l.startsWith("{")))),
    );
    const wallMs = performance.now() - start;
    const outcomes = lines.map((l) => JSON.parse(l) as ReplicaOutcome);
    const tokens = new Set(
      outcomes.flatMap((o) =>
        o.storedAccessToken ? [...o.tokens, o.storedAccessToken] : o.tokens,
      ),
    );
    return {
      url: redactUrl(REDIS_URL),
      processes,
      requestsPerProcess,
      tokenEndpointCalls: endpoint.calls,
      failures: outcomes.reduce((sum, o) => sum + o.failed, 0),
      distinctTokens: tokens.size,
      wallMs,
      firstError: outcomes.flatMap((o) => o.errors)[0],
    };
  } finally {
    clearTimeout(deadline);
    for (const c of replicas) if (c.process.exitCode === null) c.process.kill("SIGKILL");
    await Promise.all(replicas.map((c) => c.exited));
    await endpoint.close();
    await deleteKeys(prefix);
  }
}

async function deleteKeys(prefix: string): Promise<void> {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, commandTimeout: 5_000 });
  client.on("error", () => {});
  try {
    const keys = await client.keys(`${prefix}*`).catch(() => []);
    if (keys.length > 0) await client.del(...keys).catch(() => {});
  } finally {
    client.disconnect();
  }
}

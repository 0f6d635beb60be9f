/**
 * Section 4: memory retained per credential, with the latency histograms filled. Needs
 * `node --expose-gc`. Counts the V8 heap plus ArrayBuffer backing stores: a histogram's bucket
 * array lives outside the heap, so `heapUsed` alone would under-count it.
 * @module
 */
import { OAuthKeyManager } from "oauthmanager";
import { freshCredentials } from "./fixtures.js";

/** Bytes retained per credential, split by where they live. */
export interface PerCredential {
  heap: number;
  arrayBuffers: number;
  total: number;
}

export interface MemoryFigures {
  credentials: number;
  /** Requests recorded per credential at each checkpoint, and the bytes per credential there. */
  checkpoints: { requestsPerCredential: number; perCredential: PerCredential }[];
  /** p50 / p99 latency (ms) of one credential at the end: shows the histograms are filled. */
  sampleP50: number;
  sampleP99: number;
}

/** Live bytes at one moment: V8 heap and ArrayBuffer backing stores. */
export interface Usage {
  heap: number;
  arrayBuffers: number;
}

/** What is still reachable after forced garbage collection. */
export function retained(): Usage {
  const gc = globalThis.gc;
  if (!gc) throw new Error("memory figures need `node --expose-gc` (use `npm run bench`)");
  // Two passes: the first may only schedule finalisation of what the second frees.
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, arrayBuffers: m.arrayBuffers };
}

/** The growth from `before` to `after`, shared out over `n` credentials. */
export function perCredential(before: Usage, after: Usage, n: number): PerCredential {
  const heap = (after.heap - before.heap) / n;
  const arrayBuffers = (after.arrayBuffers - before.arrayBuffers) / n;
  return { heap, arrayBuffers, total: heap + arrayBuffers };
}

/** A deterministic generator (xorshift32), so every run records the same latencies. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/**
 * Records `perCredential` requests on every credential: latencies spread log-uniformly from
 * 1 ms to 30 s (so many histogram buckets fill), 95 % successes. Ids are rebuilt on the fly so
 * that the benchmark keeps no per-credential data of its own.
 */
function record(manager: OAuthKeyManager, n: number, perCredential: number, next: () => number) {
  for (let r = 0; r < perCredential; r++) {
    for (let i = 0; i < n; i++) {
      const latencyMs = Math.exp(next() * Math.log(30_000));
      manager.recordRequest(`cred-${i}`, 200 + Math.floor(next() * 800), latencyMs, next() < 0.95);
    }
  }
}

/**
 * Builds a manager of `n` credentials and measures the retained bytes per credential after each
 * step of `steps` (cumulative requests per credential). The credentials are built inside the
 * constructor call, so only what the manager keeps counts.
 */
export async function measureMemory(n: number, steps: readonly number[]): Promise<MemoryFigures> {
  const next = random(0x5eed);
  const before = retained();
  const manager = new OAuthKeyManager("memory", freshCredentials(n));
  const checkpoints: MemoryFigures["checkpoints"] = [
    { requestsPerCredential: 0, perCredential: perCredential(before, retained(), n) },
  ];
  let done = 0;
  for (const step of steps) {
    record(manager, n, step - done, next);
    done = step;
    checkpoints.push({
      requestsPerCredential: step,
      perCredential: perCredential(before, retained(), n),
    });
  }
  const sample = manager.getCredentialMetrics("cred-0");
  const requests = manager.getHealthSummary().totalRequests;
  if (requests !== n * done) throw new Error(`expected ${n * done} requests, got ${requests}`);
  await manager.close();
  return {
    credentials: n,
    checkpoints,
    sampleP50: sample?.latencyP50 ?? Number.NaN,
    sampleP99: sample?.latencyP99 ?? Number.NaN,
  };
}

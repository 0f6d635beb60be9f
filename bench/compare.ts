/**
 * Section 5: oauthmanager beside google-auth-library, cockatiel and opossum. One round of timings
 * that starts with a bare `await op(cred)`, so each library's figure can be given as a ratio to
 * that bare call; the memory figures use the same method as section 4.
 * @module
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { setImmediate as turnEventLoop } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { KeyManager, OAuthKeyManager } from "oauthmanager";
import { freshCredentials, keyOp, op } from "./fixtures.js";
import { measureMemory, type PerCredential, perCredential, retained } from "./memory.js";
import { PEERS, type Peer, peerPool } from "./peers.js";
import { type MeasureOptions, measure, type Timing } from "./timing.js";

/** Every library in the comparison, oauthmanager first. */
export const LIBRARIES = ["oauthmanager", ...PEERS] as const;
export type Library = (typeof LIBRARIES)[number];

/** Pool sizes of the happy-path rows. */
export const SIZES = [3, 1_000] as const;
export type Size = (typeof SIZES)[number];

export interface ComparisonTimings {
  bare: Timing;
  /** Per pool size, per library: the same `op` on the next of that many credentials. */
  pools: Record<Size, Record<Library, Timing>>;
  /** `KeyManager.executeWithFailover` over 3 API keys. */
  keys3: Timing;
}

const taskName = (library: Library, size: Size) => `${library}, ${size}`;
const KEYS3 = "KeyManager, 3";

/** One library's pools, built right before they are timed and torn down right after. */
type Contender = () => {
  calls: Record<string, () => Promise<unknown>>;
  close: () => unknown;
};

const oauthmanager: Contender = () => {
  const managers = SIZES.map((size) => new OAuthKeyManager("bench", freshCredentials(size)));
  const keys = new KeyManager("bench", ["api-key-0", "api-key-1", "api-key-2"]);
  const calls: Record<string, () => Promise<unknown>> = {};
  SIZES.forEach((size, i) => {
    const manager = managers[i]!;
    calls[taskName("oauthmanager", size)] = () => manager.executeWithFailover(op);
  });
  calls[KEYS3] = () => keys.executeWithFailover(keyOp);
  return { calls, close: () => Promise.all([keys.close(), ...managers.map((m) => m.close())]) };
};

const peer =
  (library: Peer): Contender =>
  () => {
    const pools = SIZES.map((size) => peerPool(library, size));
    const calls: Record<string, () => Promise<unknown>> = {};
    SIZES.forEach((size, i) => {
      const pool = pools[i]!;
      calls[taskName(library, size)] = () => pool.call();
    });
    return {
      calls,
      close() {
        for (const pool of pools) pool.close();
      },
    };
  };

/**
 * Times the bare call, then each library at every size (oauthmanager with its KeyManager of 3
 * keys), in one round: every ratio divides by that bare call.
 *
 * Only the library being timed exists while it is timed: opossum's breakers compute their
 * rolling stats on timers, which would otherwise run during the other libraries' timings. Each
 * library's pools live through all of its own tasks, as in section 1. Short rounds that rebuilt
 * the pools each time, other tasks in between, were tried: from the third round on oauthmanager
 * ran about 1.5 times slower than in section 1 and stayed so (V8 logged its optimised code
 * discarded for "weak objects", i.e. tied to collected managers), while the other libraries did
 * not move; one steady pool per library measures all of them alike.
 */
export async function measureComparison(options: MeasureOptions): Promise<ComparisonTimings> {
  const cred = freshCredentials(1)[0]!;
  // The manager hands operations a signal it already holds; so does the bare call.
  const signal = new AbortController().signal;
  const timings = await measure({ bare: () => op(cred, signal) }, options);
  for (const contender of [oauthmanager, ...PEERS.map(peer)]) {
    const { calls, close } = contender();
    try {
      for (const [name, timing] of await measure(calls, options)) timings.set(name, timing);
    } finally {
      await close();
    }
  }
  const bySize = (size: Size) =>
    Object.fromEntries(
      LIBRARIES.map((library) => [library, timings.get(taskName(library, size))!]),
    ) as Record<Library, Timing>;
  return {
    bare: timings.get("bare")!,
    pools: { 3: bySize(3), 1000: bySize(1_000) },
    keys3: timings.get(KEYS3)!,
  };
}

/** Bytes per credential after the same number of requests, by library. */
export interface MemoryComparison {
  /** The `n` credential objects with no library around them. */
  credentialsAlone: PerCredential;
  libraries: Record<Library, PerCredential>;
}

/**
 * Every library holding `n` credentials after `requestsPerCredential` requests on each; the
 * retained bytes per credential. oauthmanager records them through `recordRequest` at spread
 * latencies, exactly as section 4 does. A comparator records a request by running it through its
 * client or breaker: whatever it keeps per call (opossum's rolling stats) is what this shows.
 * Each pool is built inside its measurement, so only what it keeps counts.
 */
export async function measureMemoryComparison(
  n: number,
  requestsPerCredential: number,
): Promise<MemoryComparison> {
  const credentialsAlone = credentialBytes(n);
  const ours = await measureMemory(n, [requestsPerCredential]);
  const libraries = { oauthmanager: ours.checkpoints.at(-1)!.perCredential } as Record<
    Library,
    PerCredential
  >;
  for (const peer of PEERS) libraries[peer] = await peerBytes(peer, n, requestsPerCredential);
  return { credentialsAlone, libraries };
}

// Each measurement runs in its own call: a value left in a suspended async frame would stay
// reachable and be counted against the next library.

function credentialBytes(n: number): PerCredential {
  const before = retained();
  const credentials = freshCredentials(n);
  // `credentials.length` is read after the collection, so the array is still live during it.
  return perCredential(before, retained(), credentials.length);
}

async function peerBytes(peer: Peer, n: number, requestsPerCredential: number) {
  const before = retained();
  const pool = peerPool(peer, n);
  for (let round = 0; round < requestsPerCredential; round++) {
    // Round-robin: one call per credential per round.
    for (let i = 0; i < n; i++) await pool.call();
    // A server turns the event loop between requests; here that lets opossum rotate its stats
    // buckets on its timer as it would in use.
    await turnEventLoop();
  }
  const after = retained();
  pool.close();
  return perCredential(before, after, n);
}

/** What section 5 measures. */
export interface SideBySide {
  timings: ComparisonTimings;
  memory: MemoryComparison;
}

/** How section 5 is measured. */
export interface SideBySideOptions {
  timing: MeasureOptions;
  /** Credentials per library in the memory figures. */
  credentials: number;
  /** Requests on each credential before its memory is measured. */
  requestsPerCredential: number;
}

/** Section 5 in this process. */
export async function measureSideBySide(options: SideBySideOptions): Promise<SideBySide> {
  return {
    timings: await measureComparison(options.timing),
    memory: await measureMemoryComparison(options.credentials, options.requestsPerCredential),
  };
}

/**
 * Section 5 in a child process of its own. The same process after sections 1 to 4 would time
 * oauthmanager with V8's optimised code shaped by pools of 10,000, backoff and refreshes, and
 * the other libraries fresh: measured so, `executeWithFailover` came out about 1.5 times slower
 * than in section 1. A fresh process gives every library the same start.
 */
export async function measureSideBySideInFreshProcess(
  options: SideBySideOptions,
): Promise<SideBySide> {
  const entry = fileURLToPath(new URL("./compare-child.ts", import.meta.url));
  // The same flags as this process: --expose-gc and the TypeScript loader.
  const child = spawn(process.execPath, [...process.execArgv, entry, JSON.stringify(options)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
  });
  const [code, signal] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
  if (code !== 0) {
    throw new Error(`section 5 child process ended with ${signal ?? `exit code ${code}`}`);
  }
  return JSON.parse(out) as SideBySide;
}

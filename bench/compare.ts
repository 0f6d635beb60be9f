/**
 * Section 5: oauthmanager beside google-auth-library, cockatiel and opossum. Every round of timings
 * starts with a bare `await op(cred)`, so each library's figure can be given as a ratio to the
 * bare call of its own round; the memory figures use the same method as section 4.
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

/** One contender's figures over every round. */
export interface Compared {
  /** Median over the rounds of the ns/op (each round's figure is itself a median, see timing.ts). */
  ns: number;
  /** Median over the rounds of ns/op ÷ the bare call's ns/op in the same round. */
  timesBare: number;
  /** Each round's timing, in order. */
  rounds: Timing[];
}

export interface ComparisonTimings {
  bare: Compared;
  /** Per pool size, per library: the same `op` on the next of that many credentials. */
  pools: Record<Size, Record<Library, Compared>>;
  /** `KeyManager.executeWithFailover` over 3 API keys. */
  keys3: Compared;
}

/** Something timed: `open` builds it (outside the timing), the returned `close` tears it down. */
interface Contender {
  name: string;
  open(): { call: () => Promise<unknown>; close: () => unknown };
}

const taskName = (library: Library, size: Size) => `${library}, ${size}`;
const KEYS3 = "KeyManager, 3";

function contenders(): Contender[] {
  const cred = freshCredentials(1)[0]!;
  // The manager hands operations a signal it already holds; so does the bare call.
  const signal = new AbortController().signal;
  const list: Contender[] = [
    { name: "bare", open: () => ({ call: () => op(cred, signal), close() {} }) },
  ];
  for (const size of SIZES) {
    list.push({
      name: taskName("oauthmanager", size),
      open() {
        const manager = new OAuthKeyManager("bench", freshCredentials(size));
        return { call: () => manager.executeWithFailover(op), close: () => manager.close() };
      },
    });
    for (const peer of PEERS) {
      list.push({
        name: taskName(peer, size),
        open() {
          const pool = peerPool(peer, size);
          return { call: () => pool.call(), close: () => pool.close() };
        },
      });
    }
  }
  list.push({
    name: KEYS3,
    open() {
      const keys = new KeyManager("bench", ["api-key-0", "api-key-1", "api-key-2"]);
      return { call: () => keys.executeWithFailover(keyOp), close: () => keys.close() };
    },
  });
  return list;
}

/**
 * Only the timed contender exists while it is timed: opossum's breakers, for one, compute their
 * rolling stats on a timer, which would otherwise run during the other libraries' timings.
 */
async function timeOne(contender: Contender, options: MeasureOptions): Promise<Timing> {
  const { call, close } = contender.open();
  try {
    return (await measure({ [contender.name]: call }, options)).get(contender.name)!;
  } finally {
    await close();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Times the bare call, every library at every size and a KeyManager of 3 keys, one after another,
 * in `rounds` rounds that split `options`' time between them. Each ratio is taken within a
 * round, against that round's bare call: on a shared machine the load drifts over a minute, and
 * short rounds keep each contender close in time to the bare call it is divided by.
 */
export async function measureComparison(
  options: MeasureOptions,
  rounds: number,
): Promise<ComparisonTimings> {
  const perRound: MeasureOptions = {
    timeMs: options.timeMs / rounds,
    warmupMs: options.warmupMs / rounds,
  };
  const list = contenders();
  const timings = new Map<string, Timing[]>(list.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const contender of list)
      timings.get(contender.name)!.push(await timeOne(contender, perRound));
  }
  const bare = timings.get("bare")!;
  const compared = (name: string): Compared => {
    const own = timings.get(name)!;
    return {
      ns: median(own.map((t) => t.ns)),
      timesBare: median(own.map((t, r) => t.ns / bare[r]!.ns)),
      rounds: own,
    };
  };
  const bySize = (size: Size) =>
    Object.fromEntries(
      LIBRARIES.map((library) => [library, compared(taskName(library, size))]),
    ) as Record<Library, Compared>;
  return {
    bare: compared("bare"),
    pools: { 3: bySize(3), 1000: bySize(1_000) },
    keys3: compared(KEYS3),
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
  /** Rounds the timing is split into (see {@link measureComparison}). */
  rounds: number;
  /** Credentials per library in the memory figures. */
  credentials: number;
  /** Requests on each credential before its memory is measured. */
  requestsPerCredential: number;
}

/** Section 5 in this process. */
export async function measureSideBySide(options: SideBySideOptions): Promise<SideBySide> {
  return {
    timings: await measureComparison(options.timing, options.rounds),
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

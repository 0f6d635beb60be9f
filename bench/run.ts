/**
 * oauthmanager benchmarks: `npm run bench` (builds, then `node --expose-gc --import tsx bench/run.ts`).
 * The library is imported as "oauthmanager", i.e. the built package. Nothing is asserted: the
 * figures are printed, with the targets they are held to and, for comparison, the figures of the
 * Go package this library is modelled on ("Go").
 * Timings come from a shared 2-core machine; expect a few percent of noise between runs.
 *
 * 1. executeWithFailover overhead. ns/op of a bare `await op(cred)` (op = `async (cred) =>
 *    ({ result: cred.id })`, token fresh for a year) and of the same op through
 *    `executeWithFailover` with 3 and with 1,000 credentials. "added" = pool − bare: what the
 *    manager costs per request (selection, refresh check, metrics, health). Target < 500 ns;
 *    Go adds ≈ 545 ns. Beside it what one `Date.now()` costs on this machine, timed apart: every
 *    call reads the clock twice to time its operation, and on some virtual machines a read
 *    costs 40–60 ns, as much as the bare call.
 * 2. Selection with credentials in backoff. ns/op of `getNextCredential()` (and of
 *    `executeWithFailover`) with 10,000 credentials of which 9,990 cool down after a 429 with a
 *    1 h Retry-After, against 10 credentials none in backoff. The ratio 10,000 / 10 shows whether
 *    selection walks the credentials in backoff. Target ≤ 2; Go ≈ 6,900×.
 * 2b. Scopes and sessions. ns/op of `executeWithFailover(op, { scope })` with 10,000 credentials
 *    of which 9,990 cool down in that scope only (a 429 with a 1 h Retry-After under it), against
 *    10 credentials none cooling: the ratio shows whether selection under a scope walks the ones
 *    cooling there (target ≤ 2). And the happy path on 3 credentials with a `sessionKey` against
 *    the same without one (target ≈ 1).
 * 3. Refresh stampede. One credential whose token expired, 10,000 concurrent
 *    `executeWithFailover` calls, a token endpoint on 127.0.0.1 answering after 20 ms. Counts the
 *    token-endpoint calls (single flight: 1), successes and failures (10,000 / 0), requests that
 *    ran with the refreshed token, and the wall time of the whole burst. Go fails 5,283.
 * 4. Memory per credential. Retained bytes (V8 heap + ArrayBuffer stores, after forced GC) of a
 *    manager, divided by its number of credentials, with requests recorded through
 *    `recordRequest` at varied latencies so the percentile histograms fill: 1,000 credentials
 *    after 0, 100 and 1,000 requests each (1,000,000 in all; equal figures = no growth with
 *    requests), and 10,000 credentials after 100 each. Target < 4 KiB; Go keeps 733 B (without
 *    percentiles).
 * 5. Side by side with google-auth-library, cockatiel and opossum, each a round-robin pool with
 *    one client or breaker per credential (see peers.ts): per call the next credential, its token
 *    (`await client.getAccessToken()` from the client's cache for google-auth-library), the same
 *    `op`, through that credential's cockatiel policy or opossum breaker. One round of timings
 *    starting with a bare `await op(cred)`; every figure is printed as × that bare call, beside
 *    its ns/op. Happy path with 3 and 1,000 credentials, `KeyManager` with 3 keys, and the bytes
 *    per credential after 1,000 requests on each of 1,000 credentials (oauthmanager:
 *    `recordRequest` as in section 4; the others: 1,000 calls each through the pool). Measured in
 *    a child process of its own, so that no library inherits the JIT state the other sections
 *    leave behind.
 * 6. Short-lived tokens. A token endpoint on 127.0.0.1 that issues 60 s tokens, less than the
 *    5 min refresh buffer, and 200 sequential calls: every new token is due at once, and the least
 *    interval between refreshes (30 s) must keep the calls from refreshing each time (1 call).
 * 7. With a RedisTokenStore. ns/op of `executeWithFailover` over 3 fresh credentials on a manager
 *    whose store is a `RedisTokenStore` (REDIS_URL, else redis://127.0.0.1:6379, under a key
 *    prefix of the run's own) against the same pool with no store, timed in one round; "ratio" =
 *    Redis / in-memory. Target: the same within noise. Beside it the Redis commands the store's
 *    connection sent during 10,000 such calls, counted at ioredis's `sendCommand` (expected 0:
 *    the hot path makes no round trip). Skipped, with a line saying so, when no Redis answers.
 * 8. Refresh stampede across processes. 4 child processes (replicas, each its own
 *    `OAuthKeyManager`) on one `RedisTokenStore` (the Redis of section 7, under a key prefix of the
 *    run's own) hold the same expired credential; on "go" each sends 500 concurrent requests. The
 *    token endpoint on 127.0.0.1 answers after 50 ms, rotates the refresh token and refuses its
 *    reuse. Counts the token-endpoint calls (the Redis lock lets one replica refresh: 1), failed
 *    requests (0), distinct tokens the requests saw and the replicas found stored (1), and the
 *    wall time from "go" to the last replica's answer (includes each replica's exit work).
 *    Skipped, with a line saying so, when no Redis answers.
 * 9. The gateway (`oauthmanager serve`, built) against a bare pass-through proxy (node:http and
 *    the same undici client, no credential pool, no key check, no log), each in a child process
 *    of its own in front of one upstream on 127.0.0.1, in the same run. On Linux with `taskset`
 *    and two CPUs or more, both proxies run on the last CPU and this process (autocannon, the
 *    upstream) on the others. After a warm-up of each kind through each (3,000 requests, then
 *    1 s of load cut off as the measured runs are, then 1,000 requests one at a time from 4
 *    clients for this process's latency client), small JSON answers and SSE streams of 6
 *    events, 7 rounds of 3 s each way:
 *    - At once (after one unmeasured second of it): autocannon loads both proxies together, 32
 *      connections each, whose load starts first taken in turns. On their one CPU the scheduler
 *      gives each the same share, so "ratio" = gateway requests ÷ bare requests of a round is the
 *      ratio of their throughputs (target ≥ 0.9); the figure is the median of the rounds. A
 *      change in the machine's speed lands on both at once and moves no ratio, where between runs
 *      one after the other it moved them by up to half. Printed beside it: how busy the proxies
 *      kept their CPU (near 100 %: they, not the load, set the pace) and the gateway's part of
 *      that time (near 50 %: the shares were fair). Without pinning, the ratio is the median of
 *      the rounds in turns below.
 *    - In turns, each alone, the order swapped each round: req/s from autocannon (32
 *      connections) and p99 at that saturation (whole ms, mostly connections ÷ throughput), then
 *      latency below saturation: 4 clients one request at a time, 4,000 requests a round, timed to
 *      the microsecond; "added p99" = gateway p99 − bare p99 (target < 1 ms). Beside them the CPU
 *      time each proxy process spent per request (/proc utime + stime). Each figure is the median
 *      of its rounds; the ratio of each round's req/s is printed too.
 *    Then 1,000 SSE streams held open at once through each proxy: the growth of its resident
 *    memory (VmRSS) per stream, each reading taken after the proxy collected its garbage.
 *
 * Timings: tinybench, each sample a batch of 1,000 sequential awaited calls (see timing.ts),
 * 500 ms of warm-up and 2 s of sampling per task, from a collected heap. "ns/op" is the median of
 * the batch means (robust against other processes on the shared cores; every ratio and "added"
 * figure uses it); "mean" and its relative margin of error ("rme") are printed beside it.
 */
import {
  LIBRARIES,
  type Library,
  measureSideBySideInFreshProcess,
  SIZES,
  type Size,
} from "./compare.js";
import { fixed, gatewayRounds, int, printTable, signed } from "./format.js";
import { measureGateway, type PairedFigures, type StreamMemory } from "./gateway.js";
import { measureMemory } from "./memory.js";
import { measureBackoff, measureOverhead, measureScoped } from "./overhead.js";
import { peerVersions } from "./peers.js";
import { measureRedisStore } from "./redis.js";
import { runRedisStampede } from "./redis-stampede.js";
import { runShortLived, runStampede } from "./stampede.js";
import { BATCH, type MeasureOptions, type Timing } from "./timing.js";

const TIMING: MeasureOptions = { timeMs: 2_000, warmupMs: 500 };

function timingRow(label: string, t: Timing, extra: readonly string[]): string[] {
  return [
    label,
    fixed(t.ns, 0),
    fixed(t.mean, 0),
    `±${fixed(t.rme, 1)}%`,
    int(t.samples),
    ...extra,
  ];
}

const began = performance.now();
console.log(
  `oauthmanager benchmarks — Node ${process.version}, ${process.platform}/${process.arch}`,
);
console.log(
  `timings: ${BATCH} calls per sample, ${TIMING.warmupMs} ms warm-up + ${TIMING.timeMs} ms per task`,
);

// 1. executeWithFailover overhead
const o = await measureOverhead(TIMING);
const added3 = o.pool3.ns - o.bare.ns;
const added1000 = o.pool1000.ns - o.bare.ns;
printTable(
  "1. executeWithFailover overhead (fresh token)   target: < 500 ns added; Go ≈ 545 ns",
  ["call", "ns/op", "mean", "rme", "samples", "added ns", "× bare"],
  [
    timingRow("bare await op(cred)", o.bare, ["", ""]),
    timingRow("executeWithFailover, 3 creds", o.pool3, [
      signed(added3),
      fixed(o.pool3.ns / o.bare.ns, 1),
    ]),
    timingRow("executeWithFailover, 1,000 creds", o.pool1000, [
      signed(added1000),
      fixed(o.pool1000.ns / o.bare.ns, 1),
    ]),
  ],
);
console.log(
  `   of which the clock: Date.now() costs ${fixed(o.clockReadNs, 1)} ns here, and a call reads it twice to time its operation: ${int(2 * o.clockReadNs)} ns, ${fixed((2 * o.clockReadNs) / o.bare.ns, 1)}× bare`,
);

// 2. selection with 9,990 of 10,000 credentials in backoff
const b = await measureBackoff(TIMING);
const nextRatio = b.next10k.ns / b.next10.ns;
const execRatio = b.exec10k.ns / b.exec10.ns;
printTable(
  `2. selection with credentials in backoff (${int(b.inBackoff)} of 10,000 cooling)   target: ratio ≤ 2; Go ≈ 6,900×`,
  ["call", "ns/op", "mean", "rme", "samples", "ratio"],
  [
    timingRow("getNextCredential, 10 creds", b.next10, [""]),
    timingRow("getNextCredential, 10,000 (9,990 in backoff)", b.next10k, [fixed(nextRatio, 2)]),
    timingRow("executeWithFailover, 10 creds", b.exec10, [""]),
    timingRow("executeWithFailover, 10,000 (9,990 in backoff)", b.exec10k, [fixed(execRatio, 2)]),
  ],
);

// 2b. the same under a scope, and the happy path with a sessionKey
const sc = await measureScoped(TIMING);
printTable(
  `2b. under a scope (${int(sc.coolingInScope)} of 10,000 cooling in the scope), and with a sessionKey   target: ratios ≤ 2 and ≈ 1`,
  ["call", "ns/op", "mean", "rme", "samples", "ratio"],
  [
    timingRow("executeWithFailover { scope }, 10 creds", sc.exec10, [""]),
    timingRow("executeWithFailover { scope }, 10,000 (9,990 cooling in it)", sc.exec10k, [
      fixed(sc.exec10k.ns / sc.exec10.ns, 2),
    ]),
    timingRow("executeWithFailover, 3 creds", sc.pool3, [""]),
    timingRow("executeWithFailover { sessionKey }, 3 creds", sc.pool3Session, [
      fixed(sc.pool3Session.ns / sc.pool3.ns, 2),
    ]),
  ],
);

// 3. refresh stampede
const s = await runStampede(10_000, 20);
printTable(
  "3. refresh stampede: 1 expired credential, token endpoint answers after 20 ms   Go: 5,283 of 10,000 fail",
  [
    "concurrent calls",
    "token-endpoint calls",
    "successes",
    "failures",
    "ran with new token",
    "wall ms",
  ],
  [
    [
      int(s.calls),
      int(s.tokenEndpointCalls),
      int(s.successes),
      int(s.failures),
      int(s.usedNewToken),
      fixed(s.wallMs, 0),
    ],
  ],
);
if (s.firstError) console.log(`first failure: ${s.firstError}`);

// 6 (run here, before the memory figures): short-lived tokens
const sl = await runShortLived(200, 60);

// 4. memory per credential
const m1 = await measureMemory(1_000, [100, 1_000]);
const m2 = await measureMemory(10_000, [100]);
const memRows = [m1, m2].flatMap((m) =>
  m.checkpoints.map((c) => [
    int(m.credentials),
    int(c.requestsPerCredential),
    int(m.credentials * c.requestsPerCredential),
    int(c.perCredential.heap),
    int(c.perCredential.arrayBuffers),
    int(c.perCredential.total),
  ]),
);
printTable(
  "4. retained memory per credential (heap + ArrayBuffers, after GC)   target: < 4 KiB; Go 733 B (no percentiles)",
  ["credentials", "requests each", "requests total", "heap B", "arrayBuffers B", "total B/cred"],
  memRows,
);
const last = m1.checkpoints.at(-1)!;
const at100 = m1.checkpoints.find((c) => c.requestsPerCredential === 100)!;
console.log(
  `growth from 100 to 1,000 requests per credential: ${signed(last.perCredential.total - at100.perCredential.total)} B per credential` +
    `; cred-0 latency p50 ${fixed(m1.sampleP50, 0)} ms, p99 ${fixed(m1.sampleP99, 0)} ms (histograms filled)`,
);

// 5. side by side with other libraries
const side = await measureSideBySideInFreshProcess({
  timing: TIMING,
  credentials: 1_000,
  requestsPerCredential: 1_000,
});
const c = side.timings;
const pm = side.memory;
const timesBare = (t: Timing) => `${fixed(t.ns / c.bare.ns, 1)}×`;
const ratioCell = (t: Timing) => `${timesBare(t)} (${fixed(t.ns, 0)} ns)`;
const bytesPerCred = (library: Library) => pm.libraries[library].total;
const bareCell = `${fixed(c.bare.ns, 0)} ns`;
const happyRow = (label: string, size: Size) => [
  label,
  bareCell,
  ...LIBRARIES.map((library) => ratioCell(c.pools[size][library])),
];
printTable(
  `5. side by side (${peerVersions()}): × bare \`await op(cred)\` of the same round, lower is better`,
  ["figure", "bare", ...LIBRARIES],
  [
    happyRow("happy path, 3 credentials", 3),
    happyRow("happy path, 1,000 credentials", 1_000),
    ["KeyManager, 3 keys", bareCell, ratioCell(c.keys3), "", "", ""],
    [
      "bytes per credential after 1M requests",
      `${int(pm.credentialsAlone.total)} B`,
      ...LIBRARIES.map((library) => `${int(bytesPerCred(library))} B`),
    ],
  ],
);
console.log(
  "measured in a fresh process; bytes as in section 4, and in the bare column the 1,000 credential objects alone",
);
printTable(
  "5a. the timings behind it",
  ["call", "ns/op", "mean", "rme", "samples", "× bare"],
  [
    timingRow("bare await op(cred)", c.bare, [""]),
    ...SIZES.flatMap((size) =>
      LIBRARIES.map((library) =>
        timingRow(`${library}, ${int(size)} creds`, c.pools[size][library], [
          timesBare(c.pools[size][library]),
        ]),
      ),
    ),
    timingRow("KeyManager, 3 keys", c.keys3, [timesBare(c.keys3)]),
  ],
);
const happySummary = (label: string, size: Size) =>
  `${label} (× bare ${bareCell}): ${LIBRARIES.map((l) => `${l} ${timesBare(c.pools[size][l])}`).join(", ")}`;

printTable(
  "6. short-lived tokens: the endpoint issues 60 s tokens (less than the 5 min refresh buffer)",
  ["sequential calls", "token lifetime s", "token-endpoint calls", "failures"],
  [[int(sl.calls), int(sl.tokenLifetimeSeconds), int(sl.tokenEndpointCalls), int(sl.failures)]],
);

// 7. with a RedisTokenStore
const r = await measureRedisStore(TIMING, 10_000);
const redisRatio = r && r.redis.ns / r.memory.ns;
if (r) {
  printTable(
    `7. with a RedisTokenStore (${r.url}), fresh tokens, 3 credentials   target: ratio ≈ 1 (no round trip)`,
    ["call", "ns/op", "mean", "rme", "samples", "ratio"],
    [
      timingRow("executeWithFailover, in memory", r.memory, [""]),
      timingRow("executeWithFailover, RedisTokenStore", r.redis, [fixed(redisRatio ?? 0, 2)]),
    ],
  );
  console.log(
    `Redis commands sent during ${int(r.countedCalls)} executeWithFailover calls: ${int(r.commands)} (expected 0)`,
  );
} else {
  console.log(
    "\n7. with a RedisTokenStore: skipped, no Redis answers (set REDIS_URL, or run one on 127.0.0.1:6379)",
  );
}

// 8. refresh stampede across processes sharing a RedisTokenStore
const rs = await runRedisStampede(4, 500);
if (rs) {
  printTable(
    `8. refresh stampede across processes on one RedisTokenStore (${rs.url}), rotating refresh token   expected: 1 call, 0 failures, 1 token`,
    [
      "processes",
      "requests each",
      "token-endpoint calls",
      "failed requests",
      "distinct tokens",
      "wall ms",
    ],
    [
      [
        int(rs.processes),
        int(rs.requestsPerProcess),
        int(rs.tokenEndpointCalls),
        int(rs.failures),
        int(rs.distinctTokens),
        fixed(rs.wallMs, 0),
      ],
    ],
  );
  if (rs.firstError) console.log(`first failure: ${rs.firstError}`);
} else {
  console.log(
    "\n8. refresh stampede across processes: skipped, no Redis answers (set REDIS_URL, or run one on 127.0.0.1:6379)",
  );
}

// 9. the gateway against a bare pass-through proxy
const g = await measureGateway();
const loadRow = (label: string, { bare, gateway, ratio }: PairedFigures) => [
  label,
  fixed(bare.requestsPerSecond, 0),
  fixed(gateway.requestsPerSecond, 0),
  fixed(ratio, 2),
  fixed(bare.p99Ms, 0),
  fixed(gateway.p99Ms, 0),
  fixed(bare.latencyP99Ms, 3),
  fixed(gateway.latencyP99Ms, 3),
  fixed(gateway.latencyP99Ms - bare.latencyP99Ms, 3),
  fixed(bare.cpuMicrosPerRequest, 0),
  fixed(gateway.cpuMicrosPerRequest, 0),
  int(bare.failures + gateway.failures),
];
printTable(
  `9. gateway vs bare pass-through proxy (autocannon, ${g.connections} connections a proxy, medians of ${g.rounds} rounds of ${g.durationSeconds} s each way: ratio with both at once, the rest each alone in turns)   target: ratio ≥ 0.9, added p99 < 1 ms`,
  [
    "answers",
    "bare req/s",
    "gateway req/s",
    "ratio",
    "saturated p99 ms: bare",
    "gateway",
    "p99 ms: bare",
    "gateway",
    "added",
    "bare CPU µs/req",
    "gateway CPU µs/req",
    "failures",
  ],
  [loadRow("small JSON", g.json), loadRow("SSE, 6 events", g.sse)],
);
for (const [label, f] of [
  ["JSON", g.json],
  ["SSE", g.sse],
] as const) {
  console.log(`   ${label}: ${gatewayRounds(f)}`);
}
console.log(
  g.pinning
    ? `   proxies on CPU ${g.pinning.proxies}, this process (load, upstream) on CPU ${g.pinning.load}`
    : "   CPUs left to the scheduler (pinning needs Linux, taskset and two CPUs)",
);
const memRow = (label: string, m: StreamMemory) => [
  label,
  int(m.opened),
  fixed(m.rssBeforeBytes / 1048576, 1),
  fixed(m.rssDuringBytes / 1048576, 1),
  int(m.perStreamBytes),
];
printTable(
  `9a. ${int(g.streams)} SSE streams held open at once: resident memory of the proxy process`,
  ["proxy", "streams open", "RSS before MiB", "RSS during MiB", "B per stream"],
  [memRow("bare", g.memory.bare), memRow("gateway", g.memory.gateway)],
);

console.log(`\ntotal bench time ${fixed((performance.now() - began) / 1000, 1)} s`);
console.log(`
summary
executeWithFailover overhead: bare ${fixed(o.bare.ns, 0)} ns, 3 creds ${fixed(o.pool3.ns, 0)} ns (${signed(added3)}), 1000 creds ${fixed(o.pool1000.ns, 0)} ns (${signed(added1000)})
getNextCredential 10,000 (9,990 in backoff) vs 10: ${fixed(b.next10k.ns, 0)} ns vs ${fixed(b.next10.ns, 0)} ns, ratio ${fixed(nextRatio, 2)}
stampede: ${int(s.calls)} calls, ${int(s.tokenEndpointCalls)} refresh${s.tokenEndpointCalls === 1 ? "" : "es"}, ${int(s.failures)} failures, ${fixed(s.wallMs, 0)} ms
short-lived tokens: ${int(sl.tokenEndpointCalls)} refresh${sl.tokenEndpointCalls === 1 ? "" : "es"} in ${int(sl.calls)} calls with ${sl.tokenLifetimeSeconds} s tokens
memory: ${int(last.perCredential.total)} B per credential after ${int(m1.credentials * last.requestsPerCredential)} requests
${happySummary("happy path, 3 credentials", 3)}
${happySummary("happy path, 1,000 credentials", 1_000)}
KeyManager, 3 keys (× bare ${bareCell}): oauthmanager ${timesBare(c.keys3)} (${fixed(c.keys3.ns, 0)} ns)
bytes per credential after 1M requests: ${LIBRARIES.map((l) => `${l} ${int(bytesPerCred(l))}`).join(", ")} (credentials alone ${int(pm.credentialsAlone.total)})
${
  r
    ? `RedisTokenStore, fresh tokens: ${fixed(r.redis.ns, 0)} ns vs ${fixed(r.memory.ns, 0)} ns in memory, ratio ${fixed(redisRatio ?? 0, 2)}; ${int(r.commands)} Redis commands in ${int(r.countedCalls)} calls`
    : "RedisTokenStore: skipped, no Redis"
}
${
  rs
    ? `Redis stampede: ${int(rs.processes)} processes × ${int(rs.requestsPerProcess)} requests, ${int(rs.tokenEndpointCalls)} refresh${rs.tokenEndpointCalls === 1 ? "" : "es"}, ${int(rs.failures)} failures, ${int(rs.distinctTokens)} distinct token${rs.distinctTokens === 1 ? "" : "s"}, ${fixed(rs.wallMs, 0)} ms`
    : "Redis stampede: skipped, no Redis"
}
gateway vs bare proxy: JSON ${fixed(g.json.gateway.requestsPerSecond, 0)} vs ${fixed(g.json.bare.requestsPerSecond, 0)} req/s (ratio ${fixed(g.json.ratio, 2)}, added p99 ${fixed(g.json.gateway.latencyP99Ms - g.json.bare.latencyP99Ms, 3)} ms, CPU ${fixed(g.json.gateway.cpuMicrosPerRequest, 0)} vs ${fixed(g.json.bare.cpuMicrosPerRequest, 0)} µs/req); SSE ${fixed(g.sse.gateway.requestsPerSecond, 0)} vs ${fixed(g.sse.bare.requestsPerSecond, 0)} req/s (ratio ${fixed(g.sse.ratio, 2)}, added p99 ${fixed(g.sse.gateway.latencyP99Ms - g.sse.bare.latencyP99Ms, 3)} ms); ${int(g.streams)} open streams: ${int(g.memory.gateway.perStreamBytes)} B each (bare ${int(g.memory.bare.perStreamBytes)} B)`);

/**
 * Section 9: the gateway against a bare pass-through proxy (bare-proxy.ts: node:http and the same
 * undici client, no credential pool), each in a child process of its own, in front of the same
 * upstream on 127.0.0.1. Load from autocannon: small JSON answers and short SSE streams, through
 * both proxies at once (the throughput ratio), then through each alone in turns. Then 1,000 SSE
 * streams held open at once through each, and the child's resident memory with them.
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { open, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { Agent } from "undici";

const CLIENT_KEY = "bench-client-key-0123456789";
const JSON_BODY = JSON.stringify({
  id: "chatcmpl-bench",
  object: "chat.completion",
  model: "bench",
  choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
});
const SSE_EVENTS = 5;

/** One proxy's figures under load. */
export interface LoadFigures {
  requestsPerSecond: number;
  /** At saturation (autocannon, whole milliseconds): mostly the connections over the throughput. */
  p50Ms: number;
  p99Ms: number;
  /**
   * Below saturation: {@link LATENCY_CLIENTS} clients sending one request at a time each, timed
   * to the microsecond. What a request spends in the proxy, without the queueing that the
   * throughput figure already counts.
   */
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Answers that were not 2xx, and connection errors. */
  failures: number;
  /**
   * CPU time the proxy process spent per request (user + system): unlike req/s, it does not
   * depend on how busy the rest of the machine is.
   */
  cpuMicrosPerRequest: number;
}

/** Both proxies' figures for one answer kind. */
export interface PairedFigures {
  /** Each proxy alone under the load, in turns: medians of the rounds. */
  bare: LoadFigures;
  gateway: LoadFigures;
  /**
   * The throughput ratio, gateway ÷ bare: the median of `sharedRatios` where the proxies are
   * pinned to one CPU, else of `turnRatios`.
   */
  ratio: number;
  /** Gateway requests ÷ bare requests in each round of the two loaded at once (see sharedRound). */
  sharedRatios: number[];
  /**
   * Per shared round, the CPU time both proxies spent ÷ the round's time. Near 1 with both on
   * one CPU: that CPU was busy throughout, so the proxies, not the load, set the pace.
   */
  sharedCpuBusy: number[];
  /** Per shared round, the gateway's part of the CPU time both proxies spent (fair: near 0.5). */
  gatewayCpuShare: number[];
  /** Gateway req/s ÷ bare req/s of each round in turns, the two measured one after the other. */
  turnRatios: number[];
}

/** Resident memory of a proxy process, before and while holding the streams open. */
export interface StreamMemory {
  rssBeforeBytes: number;
  rssDuringBytes: number;
  perStreamBytes: number;
  /** Streams whose first event arrived through the proxy. */
  opened: number;
}

export interface GatewayBenchFigures {
  /** Where the proxies and the load ran; undefined when left to the scheduler. */
  pinning: Pinning | undefined;
  connections: number;
  durationSeconds: number;
  /** Rounds per answer kind, each way (at once, in turns); each figure is the median of its rounds. */
  rounds: number;
  json: PairedFigures;
  sse: PairedFigures;
  streams: number;
  memory: { bare: StreamMemory; gateway: StreamMemory };
}

/** The upstream: `/json`, `/sse` (5 events, then the end), `/hold` (one event, then held open). */
export async function startUpstream() {
  const held = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?", 1)[0];
    req.resume();
    if (path?.endsWith("/json")) {
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(JSON_BODY),
      });
      res.end(JSON_BODY);
    } else if (path?.endsWith("/sse")) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (let i = 0; i < SSE_EVENTS; i++) res.write(`data: {"n":${i}}\n\n`);
      res.end("data: [DONE]\n\n");
    } else {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write('data: {"n":0}\n\n');
      held.add(res);
      res.on("close", () => held.delete(res));
    }
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    releaseAll() {
      for (const res of held) res.end("data: [DONE]\n\n");
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Proxy {
  url: string;
  /** The path prefix requests go through (`/bench` on the gateway). */
  prefix: string;
  child: ChildProcess;
  /** Where its output goes; removed when it stops. */
  logPath: string;
}

/**
 * Extra Node flags for both proxies, from `BENCH_PROXY_NODE_ARGS` (say `--cpu-prof
 * --cpu-prof-dir=/tmp/prof` to see where their time goes).
 */
const PROXY_NODE_ARGS = (process.env.BENCH_PROXY_NODE_ARGS ?? "").split(" ").filter(Boolean);

/** Lets {@link collectGarbage} make a proxy collect its garbage (see gc-on-signal.mjs). */
const GC_ON_SIGNAL = [
  "--expose-gc",
  "--import",
  new URL("./gc-on-signal.mjs", import.meta.url).href,
];

/** The CPUs the proxies run on, and those this process (the load, the upstream) keeps. */
export interface Pinning {
  proxies: string;
  load: string;
}

/**
 * On Linux with `taskset` and two CPUs or more: the last allowed CPU for the proxies, the rest for
 * the load. Left to the scheduler, a proxy shares a core with the load in some rounds and not in
 * others: two processes of the very same gateway, measured in turns, were seen to differ by 13 %
 * in CPU per request over 7 rounds; pinned, their medians agreed within 1 %. Undefined where
 * pinning is not possible.
 */
function planPinning(): Pinning | undefined {
  if (process.platform !== "linux") return undefined;
  if (spawnSync("taskset", ["--version"]).status !== 0) return undefined;
  const allowed = cpuList(
    /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? "",
  );
  if (allowed.length < 2) return undefined;
  return { proxies: String(allowed.at(-1)), load: allowed.slice(0, -1).join(",") };
}

/** The CPUs of a list such as `0-3,6`. */
function cpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.split(",")) {
    const [from, to = from] = part.split("-").map(Number);
    if (from === undefined || to === undefined || !(from <= to)) continue;
    for (let cpu = from; cpu <= to; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** Sets the CPUs every thread of this process may run on. */
function pinThisProcess(cpus: string): void {
  spawnSync("taskset", ["--all-tasks", "--cpu-list", "--pid", cpus, String(process.pid)]);
}

/** Has `proxy` collect its garbage, and gives it time to. */
async function collectGarbage(proxy: Proxy): Promise<void> {
  proxy.child.kill("SIGUSR2");
  await new Promise((resolve) => setTimeout(resolve, 250));
}

/**
 * Starts a proxy and waits for the URL it prints. `entry` is JavaScript as users run it (the
 * built gateway), or TypeScript run through tsx. Its output goes to a file, as a service's log
 * would: read through a pipe, the gateway's request log would cost this process, which also
 * sends the load and plays the upstream, work the bare proxy does not cause.
 */
export async function startProxy(
  entry: string,
  args: string[],
  prefix: string,
  cpus?: string,
): Promise<Proxy> {
  const loader = entry.endsWith(".ts") ? ["--import", "tsx"] : [];
  const node = [...GC_ON_SIGNAL, ...PROXY_NODE_ARGS, ...loader, entry, ...args];
  const logPath = join(tmpdir(), `oauthmanager-bench-proxy-${process.pid}-${++proxiesStarted}.log`);
  const log = await open(logPath, "w");
  // taskset executes node in its own process: the pid stays the proxy's.
  const [command, argv] =
    cpus === undefined
      ? [process.execPath, node]
      : ["taskset", ["--cpu-list", cpus, process.execPath, ...node]];
  const child = spawn(command, argv, { stdio: ["ignore", log.fd, "inherit"] });
  await log.close();
  let exited: number | null | undefined;
  child.once("exit", (code) => {
    exited = code;
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const found = /http:\/\/127\.0\.0\.1:\d+/.exec(await readFile(logPath, "utf8"))?.[0];
    if (found) return { url: found, prefix, child, logPath };
    if (exited !== undefined) throw new Error(`${entry} exited with ${exited}`);
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`${entry} printed no URL within 30 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let proxiesStarted = 0;

export async function stopProxy(proxy: Proxy): Promise<void> {
  if (proxy.child.exitCode === null) {
    const exited = once(proxy.child, "exit");
    proxy.child.kill("SIGTERM");
    await exited;
  }
  await rm(proxy.logPath, { force: true });
}

/** The gateway as users run it: the built CLI (`npm run bench` builds first). */
export const GATEWAY_BIN = fileURLToPath(new URL("../dist/cli/bin.js", import.meta.url));
export const BARE_PROXY = fileURLToPath(new URL("./bare-proxy.ts", import.meta.url));

/** Requests sent before measuring, per proxy and path. */
const WARM_UP_REQUESTS = 3_000;
/** Then a timed run, as the measured ones are. */
const WARM_UP_TIMED_SECONDS = 1;

/**
 * Sends load until the proxy's code is optimised for what the measured runs will bring. A count
 * first, not a time, so that a busy machine still gets the code optimised. Then a timed run,
 * which ends as the measured ones do, by cutting off the requests in flight: the first such end
 * makes V8 drop code that had never seen a client leave, and that should not fall in the first
 * measured round of one proxy only.
 */
export async function warmUp(proxy: Proxy, path: string, connections: number): Promise<void> {
  const request = {
    url: `${proxy.url}${proxy.prefix}${path}`,
    connections,
    headers: { authorization: `Bearer ${CLIENT_KEY}` },
  };
  await autocannon({ ...request, amount: WARM_UP_REQUESTS });
  await autocannon({ ...request, duration: WARM_UP_TIMED_SECONDS });
  // This process's own latency client too: timed cold, its first requests would add to the p99
  // of whichever proxy is measured first.
  await latency(proxy, path, LATENCY_WARM_UP_REQUESTS);
}

/** User + system CPU time of a process so far, in microseconds (Linux /proc). */
async function cpuMicrosOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces), from field 3 on: utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
}

/** Linux's USER_HZ, which /proc reports CPU times in. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Clients of the latency figure, each with one request in flight. */
export const LATENCY_CLIENTS = 4;
/** Requests of the latency figure, per proxy and round. */
const LATENCY_REQUESTS = 4_000;
/** Requests through each proxy, per answer kind, that warm up the latency figure's client. */
const LATENCY_WARM_UP_REQUESTS = 1_000;

/** p50 and p99 (ms) of whole requests, answer read to its end, below saturation. */
async function latency(
  proxy: Proxy,
  path: string,
  requests = LATENCY_REQUESTS,
): Promise<{ p50: number; p99: number }> {
  const client = new Agent({ connections: LATENCY_CLIENTS, keepAliveTimeout: 10_000 });
  const times: number[] = [];
  let left = requests;
  const oneClient = async () => {
    while (left-- > 0) {
      const started = performance.now();
      const res = await client.request({
        origin: proxy.url,
        path: `${proxy.prefix}${path}`,
        method: "GET",
        headers: { authorization: `Bearer ${CLIENT_KEY}` },
      });
      await res.body.text();
      times.push(performance.now() - started);
    }
  };
  try {
    await Promise.all(Array.from({ length: LATENCY_CLIENTS }, oneClient));
  } finally {
    await client.close();
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99) };
}

/** autocannon's load on `proxy` for `seconds`, and the CPU time the proxy spent meanwhile. */
async function saturate(proxy: Proxy, path: string, connections: number, seconds: number) {
  const pid = proxy.child.pid ?? 0;
  const cpuBefore = await cpuMicrosOf(pid);
  const result = await autocannon({
    url: `${proxy.url}${proxy.prefix}${path}`,
    connections,
    duration: seconds,
    headers: { authorization: `Bearer ${CLIENT_KEY}` },
  });
  return {
    result,
    cpuMicros: (await cpuMicrosOf(pid)) - cpuBefore,
    failures: result.non2xx + result.errors + result.timeouts,
  };
}

/** `proxy` alone: saturated, then its latency below saturation. */
async function load(proxy: Proxy, path: string, connections: number, seconds: number) {
  const { result, cpuMicros, failures } = await saturate(proxy, path, connections, seconds);
  const below = await latency(proxy, path);
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    latencyP50Ms: below.p50,
    latencyP99Ms: below.p99,
    failures,
    cpuMicrosPerRequest: cpuMicros / Math.max(1, result.requests.total),
  } satisfies LoadFigures;
}

/**
 * Both proxies loaded at once, each by its own `connections`, for `seconds`. Pinned to the same
 * CPU, they take turns on it, a few milliseconds at a time, and the scheduler gives each the same
 * share, so each one's requests count what it does with that share: the ratio of the two is the
 * ratio of their throughputs alone. Unlike two runs one after the other, it does not move when
 * the machine's speed does (on shared hosts, by half within seconds): a change lands on both at
 * once. `gatewayFirst` says whose load starts first, which the rounds take in turns.
 */
async function sharedRound(
  bare: Proxy,
  gateway: Proxy,
  path: string,
  connections: number,
  seconds: number,
  gatewayFirst: boolean,
) {
  const run = (proxy: Proxy) => saturate(proxy, path, connections, seconds);
  const started = performance.now();
  const gatewayStarted = gatewayFirst ? run(gateway) : undefined;
  const bareStarted = run(bare);
  const [bareRun, gatewayRun] = await Promise.all([bareStarted, gatewayStarted ?? run(gateway)]);
  return { bare: bareRun, gateway: gatewayRun, wallMicros: (performance.now() - started) * 1000 };
}

/**
 * Both proxies under the same load, `rounds` times each way: loaded at once (see sharedRound),
 * then in turns, one alone after the other, the order swapped each round, for what only a proxy
 * alone shows (its req/s, p99, CPU per request). Each figure is the median of its rounds, so a
 * burst of other work on the machine lands in one round and is left out. Failures are summed.
 */
async function loadBoth(
  bare: Proxy,
  gateway: Proxy,
  path: string,
  connections: number,
  seconds: number,
  rounds: number,
  pinned: boolean,
): Promise<PairedFigures> {
  const sharedRatios: number[] = [];
  const sharedCpuBusy: number[] = [];
  const gatewayCpuShare: number[] = [];
  const sharedFailures = { bare: 0, gateway: 0 };
  // Unmeasured: the first round at once after one proxy ran alone was seen to leave the gateway
  // 38 % of the CPU, in two answer kinds of one run, and 50 % in every round after it.
  await sharedRound(bare, gateway, path, connections, 1, false);
  for (let round = 0; round < rounds; round++) {
    const shared = await sharedRound(bare, gateway, path, connections, seconds, round % 2 === 1);
    const cpu = shared.bare.cpuMicros + shared.gateway.cpuMicros;
    const requests = {
      bare: shared.bare.result.requests.total,
      gateway: shared.gateway.result.requests.total,
    };
    sharedRatios.push(requests.gateway / Math.max(1, requests.bare));
    sharedCpuBusy.push(cpu / shared.wallMicros);
    gatewayCpuShare.push(shared.gateway.cpuMicros / Math.max(1, cpu));
    sharedFailures.bare += shared.bare.failures;
    sharedFailures.gateway += shared.gateway.failures;
  }
  const runs = { bare: [] as LoadFigures[], gateway: [] as LoadFigures[] };
  const turnRatios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (["bare", "gateway"] as const) : (["gateway", "bare"] as const);
    for (const name of order) {
      runs[name].push(await load(name === "bare" ? bare : gateway, path, connections, seconds));
    }
    turnRatios.push(runs.gateway[round]!.requestsPerSecond / runs.bare[round]!.requestsPerSecond);
  }
  const alone = { bare: medianFigures(runs.bare), gateway: medianFigures(runs.gateway) };
  alone.bare.failures += sharedFailures.bare;
  alone.gateway.failures += sharedFailures.gateway;
  return {
    ...alone,
    ratio: median(pinned ? sharedRatios : turnRatios),
    sharedRatios,
    sharedCpuBusy,
    gatewayCpuShare,
    turnRatios,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
}

function medianFigures(runs: readonly LoadFigures[]): LoadFigures {
  const of = (pick: (f: LoadFigures) => number) => median(runs.map(pick));
  return {
    requestsPerSecond: of((f) => f.requestsPerSecond),
    p50Ms: of((f) => f.p50Ms),
    p99Ms: of((f) => f.p99Ms),
    latencyP50Ms: of((f) => f.latencyP50Ms),
    latencyP99Ms: of((f) => f.latencyP99Ms),
    failures: runs.reduce((sum, f) => sum + f.failures, 0),
    cpuMicrosPerRequest: of((f) => f.cpuMicrosPerRequest),
  };
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? Number.NaN);
  return kb * 1024;
}

/** Opens `count` held streams through `proxy`, waits for each one's first event, measures, releases. */
async function holdStreams(
  proxy: Proxy,
  upstream: { releaseAll(): void },
  count: number,
): Promise<StreamMemory> {
  const pid = proxy.child.pid ?? 0;
  // After a collection each time: the garbage of the load before would otherwise count, or be
  // collected while the streams are open and make the figure negative.
  await collectGarbage(proxy);
  const rssBeforeBytes = await rssOf(pid);
  const client = new Agent({ connections: count + 10, keepAliveTimeout: 1_000 });
  let opened = 0;
  const bodies = await Promise.all(
    Array.from({ length: count }, async () => {
      const res = await client.request({
        origin: proxy.url,
        path: `${proxy.prefix}/hold`,
        method: "GET",
        headers: { authorization: `Bearer ${CLIENT_KEY}` },
      });
      await once(res.body, "readable");
      opened++;
      return res.body;
    }),
  );
  await collectGarbage(proxy);
  const rssDuringBytes = await rssOf(pid);
  upstream.releaseAll();
  await Promise.all(bodies.map((b) => b.dump()));
  await client.close();
  return {
    rssBeforeBytes,
    rssDuringBytes,
    perStreamBytes: (rssDuringBytes - rssBeforeBytes) / count,
    opened,
  };
}

/**
 * Section 9.
 * @param seconds autocannon's duration per round
 * @param streams held open at once for the memory figure
 * @param rounds per answer kind, each way (an odd number: each figure is a median)
 */
export async function measureGateway(
  seconds = 3,
  connections = 32,
  streams = 1_000,
  rounds = 7,
): Promise<GatewayBenchFigures> {
  const upstream = await startUpstream();
  const config = join(tmpdir(), `oauthmanager-bench-gateway-${process.pid}.yaml`);
  await writeFile(
    config,
    `server:
  client_keys: ["${CLIENT_KEY}"]
providers:
  bench:
    upstream: ${upstream.url}
    api_keys: ["bench-upstream-key-1", "bench-upstream-key-2", "bench-upstream-key-3"]
`,
  );
  const pinning = planPinning();
  const everyCpu = pinning && `${pinning.load},${pinning.proxies}`;
  if (pinning) pinThisProcess(pinning.load);
  const bare = await startProxy(BARE_PROXY, [upstream.url], "", pinning?.proxies);
  const gateway = await startProxy(
    GATEWAY_BIN,
    ["serve", "--config", config, "--port", "0"],
    "/bench",
    pinning?.proxies,
  );
  try {
    // Warm both up (JIT, connection pools) before anything counts.
    for (const proxy of [bare, gateway]) {
      for (const path of ["/json", "/sse"]) await warmUp(proxy, path, connections);
    }
    const pinned = pinning !== undefined;
    const json = await loadBoth(bare, gateway, "/json", connections, seconds, rounds, pinned);
    const sse = await loadBoth(bare, gateway, "/sse", connections, seconds, rounds, pinned);
    const memory = {
      bare: await holdStreams(bare, upstream, streams),
      gateway: await holdStreams(gateway, upstream, streams),
    };
    return { pinning, connections, durationSeconds: seconds, rounds, json, sse, streams, memory };
  } finally {
    if (everyCpu) pinThisProcess(everyCpu);
    await Promise.allSettled([stopProxy(bare), stopProxy(gateway)]);
    await upstream.close();
    await rm(config, { force: true });
  }
}

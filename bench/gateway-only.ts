/**
 * Section 9 alone (see run.ts), on the built gateway (`npm run build` first):
 * `node --import tsx bench/gateway-only.ts [seconds per round] [rounds]`.
 * @module
 */
import { measureGateway } from "./gateway.js";

const f = await measureGateway(
  Number(process.argv[2] ?? 5),
  32,
  1000,
  Number(process.argv[3] ?? 3),
);
const r = (a: number, b: number) => (a / b).toFixed(2);
console.log(
  `JSON  bare ${f.json.bare.requestsPerSecond.toFixed(0)} req/s p99 ${f.json.bare.p99Ms} ms | gateway ${f.json.gateway.requestsPerSecond.toFixed(0)} req/s p99 ${f.json.gateway.p99Ms} ms | ratio ${r(f.json.gateway.requestsPerSecond, f.json.bare.requestsPerSecond)} p99 at saturation +${f.json.gateway.p99Ms - f.json.bare.p99Ms} ms | p99 below saturation bare ${f.json.bare.latencyP99Ms.toFixed(3)} gateway ${f.json.gateway.latencyP99Ms.toFixed(3)} added ${(f.json.gateway.latencyP99Ms - f.json.bare.latencyP99Ms).toFixed(3)} ms | CPU µs/req bare ${f.json.bare.cpuMicrosPerRequest.toFixed(0)} gateway ${f.json.gateway.cpuMicrosPerRequest.toFixed(0)} | failures ${f.json.bare.failures + f.json.gateway.failures}`,
);
console.log(
  `SSE   bare ${f.sse.bare.requestsPerSecond.toFixed(0)} req/s p99 ${f.sse.bare.p99Ms} ms | gateway ${f.sse.gateway.requestsPerSecond.toFixed(0)} req/s p99 ${f.sse.gateway.p99Ms} ms | ratio ${r(f.sse.gateway.requestsPerSecond, f.sse.bare.requestsPerSecond)} p99 at saturation +${f.sse.gateway.p99Ms - f.sse.bare.p99Ms} ms | p99 below saturation bare ${f.sse.bare.latencyP99Ms.toFixed(3)} gateway ${f.sse.gateway.latencyP99Ms.toFixed(3)} added ${(f.sse.gateway.latencyP99Ms - f.sse.bare.latencyP99Ms).toFixed(3)} ms | CPU µs/req bare ${f.sse.bare.cpuMicrosPerRequest.toFixed(0)} gateway ${f.sse.gateway.cpuMicrosPerRequest.toFixed(0)} | failures ${f.sse.bare.failures + f.sse.gateway.failures}`,
);
console.log(
  `1000 streams: bare ${f.memory.bare.opened} open, ${f.memory.bare.perStreamBytes.toFixed(0)} B/stream | gateway ${f.memory.gateway.opened} open, ${f.memory.gateway.perStreamBytes.toFixed(0)} B/stream (RSS ${(f.memory.gateway.rssBeforeBytes / 1048576).toFixed(0)} -> ${(f.memory.gateway.rssDuringBytes / 1048576).toFixed(0)} MiB)`,
);

/**
 * Section 9 alone (see run.ts), on the built gateway (`npm run build` first):
 * `node --import tsx bench/gateway-only.ts [seconds per round] [rounds]`.
 * @module
 */
import { gatewayRounds } from "./format.js";
import { measureGateway, type PairedFigures } from "./gateway.js";

/** A number argument, or undefined to take measureGateway's default. */
const arg = (i: number) => (process.argv[i] === undefined ? undefined : Number(process.argv[i]));
const f = await measureGateway(arg(2), undefined, undefined, arg(3));
/** One answer kind's figures on a line. */
function line(label: string, f: PairedFigures) {
  const { bare, gateway } = f;
  const added = (gateway.latencyP99Ms - bare.latencyP99Ms).toFixed(3);
  return [
    `${label.padEnd(5)} ratio ${f.ratio.toFixed(2)} (${gatewayRounds(f)})`,
    `alone: bare ${bare.requestsPerSecond.toFixed(0)} req/s p99 ${bare.p99Ms} ms`,
    `gateway ${gateway.requestsPerSecond.toFixed(0)} req/s p99 ${gateway.p99Ms} ms`,
    `p99 below saturation bare ${bare.latencyP99Ms.toFixed(3)} gateway ${gateway.latencyP99Ms.toFixed(3)} added ${added} ms`,
    `CPU µs/req bare ${bare.cpuMicrosPerRequest.toFixed(0)} gateway ${gateway.cpuMicrosPerRequest.toFixed(0)}`,
    `failures ${bare.failures + gateway.failures}`,
  ].join(" | ");
}

console.log(
  f.pinning ? `proxies on CPU ${f.pinning.proxies}, load on CPU ${f.pinning.load}` : "not pinned",
);
console.log(line("JSON", f.json));
console.log(line("SSE", f.sse));
console.log(
  `1000 streams: bare ${f.memory.bare.opened} open, ${f.memory.bare.perStreamBytes.toFixed(0)} B/stream | gateway ${f.memory.gateway.opened} open, ${f.memory.gateway.perStreamBytes.toFixed(0)} B/stream (RSS ${(f.memory.gateway.rssBeforeBytes / 1048576).toFixed(0)} -> ${(f.memory.gateway.rssDuringBytes / 1048576).toFixed(0)} MiB)`,
);

/**
 * A webhook receiver on 127.0.0.1 that records what it is sent, for tests of alerts end to end.
 */
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { MonitoringConfig } from "../../src/types.js";
import { closeServer } from "./close-server.js";

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Resolves once `n` requests have arrived. */
  waitFor(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(mode: "ok" | "hang" = "ok"): Promise<Receiver> {
  const received: Received[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server: Server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    received.push({ headers: req.headers, body });
    for (const w of waiters.filter((w) => received.length >= w.n)) w.resolve();
    if (mode === "hang") return; // never answers
    res.writeHead(200).end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    waitFor(n) {
      if (received.length >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    close: () => closeServer(server),
  };
}

/**
 * Monitoring with only the alerts a test raises itself: the built-in rules off, `failure` events
 * to `webhookUrl` when one is given (a receiver on 127.0.0.1).
 */
export function alertsOnly(webhookUrl?: string): MonitoringConfig {
  const config: MonitoringConfig = {
    webhookEvents: ["failure"],
    alertOnHighFailureRate: false,
    failureRateThreshold: 0.5,
    alertOnRefreshFailure: false,
    alertOnExpirySoon: false,
    expiryWarningTime: 0,
  };
  if (webhookUrl !== undefined) {
    config.webhookUrl = webhookUrl;
    config.allowPrivateWebhookTargets = true;
  }
  return config;
}

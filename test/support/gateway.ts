/**
 * A gateway on 127.0.0.1 for tests, built from YAML text; `setConfig` changes what the next reload
 * reads. Every log line is kept, so a test can check that none carries a secret.
 */
import { request } from "node:http";
import { parseConfig } from "../../src/config/parse.js";
import { Gateway } from "../../src/gateway/gateway.js";

export interface TestGateway {
  gateway: Gateway;
  url: string;
  logs: string[];
  setConfig(yaml: string): void;
  close(): Promise<void>;
}

export async function startGateway(yaml: string): Promise<TestGateway> {
  let current = yaml;
  const logs: string[] = [];
  const gateway = await Gateway.start(parseConfig(yaml, {}), {
    port: 0,
    load: async () => parseConfig(current, {}),
    log: (line) => logs.push(line),
  });
  return {
    gateway,
    url: gateway.url,
    logs,
    setConfig(next) {
      current = next;
    },
    close: () => gateway.close(),
  };
}

/** A fetch to the gateway with the client key as a Bearer token. */
export function call(
  url: string,
  key: string,
  init: RequestInit & { headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(url, { ...init, headers: { authorization: `Bearer ${key}`, ...init.headers } });
}

/**
 * A request sent as written, through node:http: fetch would normalise the path (`%2e%2e`) and
 * refuses headers such as `Connection`.
 */
export function rawRequest(
  url: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = request({ hostname, port, path, headers }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * Cross-process refresh through FileTokenStore: several processes see
 * the same expired credential at the same moment; under `withLock` each re-reads the store, so
 * the one-use refresh token is spent exactly once and every process ends on the same token.
 */
import { once } from "node:events";
import * as fsp from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileTokenStore } from "../src/stores/file-store.js";
import { type Child, startChild } from "./fixtures/store-child.js";

const KEY = "qwen/shared";

/** A token endpoint whose refresh tokens are single-use: reuse gets `invalid_grant`. */
class RotatingTokenEndpoint {
  posts = 0;
  invalidGrants = 0;
  unexpected: string[] = [];
  generation = 0;
  readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => {
      if (req.method !== "POST" || req.url !== "/token") {
        this.unexpected.push(`${req.method} ${req.url}`);
        res.writeHead(404).end();
        return;
      }
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => {
        body += chunk;
      });
      req.on("end", () => {
        this.posts++;
        const form = new URLSearchParams(body);
        res.setHeader("content-type", "application/json");
        if (
          form.get("grant_type") !== "refresh_token" ||
          form.get("refresh_token") !== `rt-${this.generation}`
        ) {
          this.invalidGrants++;
          res.writeHead(400).end(JSON.stringify({ error: "invalid_grant" }));
          return;
        }
        this.generation++;
        res.writeHead(200).end(
          JSON.stringify({
            access_token: `at-${this.generation}`,
            refresh_token: `rt-${this.generation}`,
            expires_in: 3600,
            token_type: "Bearer",
          }),
        );
      });
    });
  }

  async listen(): Promise<string> {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/token`;
  }
}

let dir: string;
let file: string;
let url: string;
const endpoint = new RotatingTokenEndpoint();
const children = new Set<Child>();

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), "oauthmanager-multiprocess-"));
  file = path.join(dir, "tokens.json");
  url = await endpoint.listen();
});

afterAll(async () => {
  for (const c of children) c.process.kill("SIGKILL");
  await Promise.all([...children].map((c) => c.exited));
  endpoint.server.close();
  await fsp.rm(dir, { recursive: true, force: true });
});

/** Marks the stored token expired, as the processes would find it after its lifetime. */
async function expireStoredToken(): Promise<void> {
  const store = new FileTokenStore({ path: file });
  const current = await store.load(KEY);
  await store.save(KEY, {
    accessToken: current?.accessToken ?? "at-0",
    refreshToken: current?.refreshToken ?? "rt-0",
    expiresAt: new Date(Date.now() - 60_000),
  });
  await store.close();
}

async function race(
  processes: number,
): Promise<Array<{ accessToken: string; refreshed: boolean }>> {
  const racers = Array.from({ length: processes }, () => {
    const child = startChild("store-refresher.ts", [file, url, KEY]);
    children.add(child);
    return child;
  });
  await Promise.all(racers.map((c) => c.waitForLine((l) => l === "ready")));
  for (const c of racers) c.process.stdin?.write("go\n");
  const results = [];
  for (const c of racers) {
    const line = await c.waitForLine((l) => l.startsWith("{"));
    const { code } = await c.exited;
    children.delete(c);
    expect(code, c.stderr()).toBe(0);
    results.push(JSON.parse(line) as { accessToken: string; refreshed: boolean });
  }
  return results;
}

describe("FileTokenStore shared by processes refreshing one credential", () => {
  for (const [round, processes] of [
    [1, 2],
    [2, 4],
    [3, 4],
  ] as const) {
    it(`${processes} processes, one expired token: exactly 1 POST, all end with the new token`, async () => {
      await expireStoredToken();
      const postsBefore = endpoint.posts;
      const results = await race(processes);

      expect(endpoint.posts - postsBefore).toBe(1);
      expect(endpoint.invalidGrants).toBe(0);
      expect(endpoint.unexpected).toEqual([]);
      expect(results.filter((r) => r.refreshed)).toHaveLength(1);
      for (const r of results) expect(r.accessToken).toBe(`at-${round}`);

      const store = new FileTokenStore({ path: file });
      await expect(store.load(KEY)).resolves.toMatchObject({
        accessToken: `at-${round}`,
        refreshToken: `rt-${round}`,
        refreshCount: 1,
      });
      await store.close();
    }, 60_000);
  }
});

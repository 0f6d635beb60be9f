/**
 * A Redis for tests: the one on 127.0.0.1:6379 when it answers, else a `redis-server` started on a
 * free port (no persistence) and stopped by `stop()`. Each test works under its own key prefix and
 * deletes only its own keys.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createConnection, createServer } from "node:net";
import { Redis } from "ioredis";
import type { StoreChange } from "../../src/stores/shared-state.js";

export interface TestRedis {
  url: string;
  port: number;
  /** Stops the server this helper started; leaves a shared one running. */
  stop(): Promise<void>;
}

const DEFAULT_PORT = 6379;

/** True when something on `port` answers PING like a Redis. */
export function answersPing(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts `redis-server` on `port` without persistence, once it answers PING. */
export async function startRedisServer(port: number): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  const failed = new Promise<never>((_, reject) => {
    child.once("error", (err: NodeJS.ErrnoException) => {
      reject(
        err.code === "ENOENT"
          ? new Error(
              "redis-server is not installed and nothing answers on 127.0.0.1:6379: apt-get install redis-server",
            )
          : err,
      );
    });
    child.once("exit", (code) => reject(new Error(`redis-server exited with code ${code}`)));
  });
  failed.catch(() => {});
  const deadline = Date.now() + 10_000;
  while (!(await Promise.race([answersPing(port, 200), failed]))) {
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`redis-server did not answer on port ${port} within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  child.removeAllListeners("exit");
  return child;
}

/** Stops a server started by {@link startRedisServer}. */
export async function stopRedisServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGKILL");
  await exited;
}

/** The shared Redis on 6379 when it answers, else one of our own. */
export async function testRedis(): Promise<TestRedis> {
  if (await answersPing(DEFAULT_PORT)) {
    return { url: `redis://127.0.0.1:${DEFAULT_PORT}`, port: DEFAULT_PORT, stop: async () => {} };
  }
  const port = await freePort();
  const child = await startRedisServer(port);
  return { url: `redis://127.0.0.1:${port}`, port, stop: () => stopRedisServer(child) };
}

/** A key prefix no other test run uses. */
export function uniquePrefix(): string {
  return `oauthmanager-test:${process.pid}:${randomBytes(6).toString("hex")}:`;
}

/** Deletes every key under `prefix`, and only those. */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  client.on("error", () => {});
  try {
    await client.connect();
    const pattern = `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", pattern, "COUNT", 500);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    client.disconnect();
  }
}

/** Every key under `prefix` (to check that a store wrote nowhere else). */
export async function keysUnder(url: string, prefix: string): Promise<string[]> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on("error", () => {});
  try {
    const pattern = `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
    return await client.keys(pattern);
  } finally {
    client.disconnect();
  }
}

/** What announces changes: a `RedisTokenStore`. */
interface Watchable {
  watch(prefix: string, listener: (change: StoreChange) => void): () => void;
}

/** Resolves at the first change `store` passes to a watcher that `match` accepts. */
export function heard(store: Watchable, match: (change: StoreChange) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const stop = store.watch("", (change) => {
      if (match(change)) {
        stop();
        resolve();
      }
    });
  });
}

/**
 * Resolves once `store` hears announcements (its subscription is up). Only a watcher that is
 * there when it comes up is told; one added later misses none of the announcements after it.
 */
export function subscribed(store: Watchable): Promise<void> {
  return heard(store, (change) => change.type === "resync");
}

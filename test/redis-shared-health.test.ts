/**
 * Health shared by replicas in separate Node processes: a 429 cooldown one process meets holds
 * the credential out of selection in a process that is running (through the announcement) and
 * in one started afterwards (through the mark stored with its end).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Child, startChild } from "./fixtures/store-child.js";
import { deleteKeys, type TestRedis, testRedis, uniquePrefix } from "./support/redis.js";

let redis: TestRedis;
const prefix = uniquePrefix();
const children = new Set<Child>();

beforeAll(async () => {
  redis = await testRedis();
});

afterAll(async () => {
  for (const c of children) c.process.kill("SIGKILL");
  await Promise.all([...children].map((c) => c.exited));
  await deleteKeys(redis.url, prefix);
  await redis.stop();
});

function start(role: "limit" | "watch" | "serve"): Child {
  const child = startChild("redis-health-process.ts", [redis.url, prefix, role]);
  children.add(child);
  return child;
}

interface Served {
  used: string[];
  state: string;
  backoffUntil: number | null;
  failureCount: number;
}

async function outcome(child: Child): Promise<Served> {
  const line = await child.waitForLine((l) => l.startsWith("{"));
  const { code } = await child.exited;
  children.delete(child);
  expect(code, child.stderr()).toBe(0);
  return JSON.parse(line) as Served;
}

describe("a 429 cooldown shared between processes", () => {
  it("set in one process, it is respected by a running process and by one started later", async () => {
    const watcher = start("watch");
    await watcher.waitForLine((l) => l === "ready");

    const limiter = start("limit");
    await limiter.waitForLine((l) => l === "limited");
    const { code } = await limiter.exited;
    children.delete(limiter);
    expect(code, limiter.stderr()).toBe(0);

    const started = Date.now();
    for (const served of [await outcome(watcher), await outcome(start("serve"))]) {
      expect(served.used).toEqual(["b"]);
      expect(served.state).toBe("cooling");
      // The cooldown's end, about 120 s away; the failure itself is counted where it happened.
      expect(served.backoffUntil).toBeGreaterThan(started + 60_000);
      expect(served.failureCount).toBe(0);
    }
  }, 60_000);
});

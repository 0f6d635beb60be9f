/**
 * The Redis scaffolding of a test file: one {@link TestRedis} for the file, a fresh key prefix per
 * use, and what each test opened closed after it, its keys deleted.
 */
import { afterAll, afterEach, beforeAll } from "vitest";
import { deleteKeys, type TestRedis, testRedis, uniquePrefix } from "./redis.js";

export interface RedisPerTest {
  /** The Redis of this file (set once `beforeAll` has run). */
  readonly redis: TestRedis;
  /** A key prefix no other test uses; its keys are deleted after the test. */
  freshPrefix(): string;
  /** Runs `fn` after the test, before its keys are deleted; the last registered runs first. */
  onCleanup(fn: () => Promise<unknown> | unknown): void;
}

/** Registers the hooks; call at the top level of a test file. */
export function redisPerTest(): RedisPerTest {
  let redis: TestRedis | undefined;
  const prefixes: string[] = [];
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  beforeAll(async () => {
    redis = await testRedis();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    const url = redis?.url;
    if (url) await Promise.all(prefixes.splice(0).map((p) => deleteKeys(url, p)));
  });
  afterAll(async () => {
    await redis?.stop();
  });
  return {
    get redis() {
      if (!redis) throw new Error("redisPerTest: used before beforeAll ran");
      return redis;
    },
    freshPrefix() {
      const prefix = uniquePrefix();
      prefixes.push(prefix);
      return prefix;
    },
    onCleanup(fn) {
      cleanups.push(fn);
    },
  };
}

import { describe, expect, it } from "vitest";
import { KeyedMutex, MemoryTokenStore } from "./memory-store.js";
import { testTokenStore } from "./test-support/token-store-contract.js";

testTokenStore("MemoryTokenStore", async () => ({
  store: new MemoryTokenStore(),
  cleanup: async () => {},
}));

describe("KeyedMutex", () => {
  const never = () => new Error("timeout");

  it("holds no entry for a key once it is free, however many keys passed through, so memory stays bounded", async () => {
    const mutex = new KeyedMutex();
    for (let i = 0; i < 10_000; i++) {
      const release = await mutex.acquire(`k${i}`, 1_000, undefined, never);
      release();
    }
    expect(mutex.size).toBe(0);
  });

  it("hands the lock to waiters in order and forgets the key after the last one", async () => {
    const mutex = new KeyedMutex();
    const order: number[] = [];
    const first = await mutex.acquire("k", 1_000, undefined, never);
    const waiters = [1, 2, 3].map((i) =>
      mutex.acquire("k", 1_000, undefined, never).then((release) => {
        order.push(i);
        release();
      }),
    );
    expect(mutex.size).toBe(1);
    first();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3]);
    expect(mutex.size).toBe(0);
  });

  it("a waiter that times out or is aborted leaves the queue, so the next one still gets in", async () => {
    const mutex = new KeyedMutex();
    const holder = await mutex.acquire("k", 1_000, undefined, never);
    const controller = new AbortController();
    const aborted = mutex.acquire("k", 10_000, controller.signal, never);
    const timedOut = mutex.acquire("k", 1, undefined, () => new Error("timed out"));
    const patient = mutex.acquire("k", 10_000, undefined, never);
    controller.abort(new Error("stop"));
    await expect(aborted).rejects.toThrow("stop");
    await expect(timedOut).rejects.toThrow("timed out");
    holder();
    const release = await patient;
    release();
    release(); // a second release is a no-op
    expect(mutex.size).toBe(0);
  });

  it("releasing twice does not release the next holder's lock", async () => {
    const mutex = new KeyedMutex();
    const a = await mutex.acquire("k", 1_000, undefined, never);
    const bPromise = mutex.acquire("k", 1_000, undefined, never);
    a();
    const b = await bPromise;
    a();
    const c = mutex.acquire("k", 5, undefined, () => new Error("still held"));
    await expect(c).rejects.toThrow("still held");
    b();
    expect(mutex.size).toBe(0);
  });
});

describe("MemoryTokenStore", () => {
  it("does not keep lock entries for keys no longer locked", async () => {
    const store = new MemoryTokenStore();
    for (let i = 0; i < 1_000; i++) await store.withLock(`p/${i}`, async () => i);
    // A fresh lock on any key is granted at once: nothing is left queued.
    await expect(store.withLock("p/1", async () => "ok", { timeoutMs: 0 })).resolves.toBe("ok");
  });

  it("is async-disposable", async () => {
    const store = new MemoryTokenStore();
    await store[Symbol.asyncDispose]();
    await expect(store.load("p/a")).rejects.toThrow(/closed/);
  });
});

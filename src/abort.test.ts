/**
 * Racing work against an AbortSignal: however many calls wait on one signal, it carries one
 * listener, so no MaxListenersExceededWarning; an abort still rejects every one of them.
 */
import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { captureWarnings } from "../test/support/warnings.js";
import { onAbort, raceAbort } from "./abort.js";

const warnings = captureWarnings();

describe("raceAbort", () => {
  it("50 calls sharing one signal add one listener, and an abort rejects each with its reason", async () => {
    const controller = new AbortController();
    const pending = Array.from({ length: 50 }, () =>
      raceAbort(new Promise<never>(() => {}), controller.signal).then(
        () => "resolved",
        (err: unknown) => err,
      ),
    );
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    const reason = new Error("caller gave up");
    controller.abort(reason);
    for (const outcome of await Promise.all(pending)) expect(outcome).toBe(reason);
    await warnings.settled();
    expect(warnings.list).toEqual([]);
  });

  it("the shared listener goes once every call has settled", async () => {
    const controller = new AbortController();
    const settle: (() => void)[] = [];
    const calls = Array.from({ length: 20 }, (_, i) =>
      raceAbort(new Promise<number>((r) => settle.push(() => r(i))), controller.signal),
    );
    for (const s of settle.slice(0, 10)) s();
    await Promise.all(calls.slice(0, 10));
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    for (const s of settle.slice(10)) s();
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("a rejection passes through, and an aborted signal rejects at once", async () => {
    const controller = new AbortController();
    const err = new Error("work failed");
    await expect(raceAbort(Promise.reject(err), controller.signal)).rejects.toBe(err);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    controller.abort("stop");
    await expect(raceAbort(Promise.resolve(1), controller.signal)).rejects.toBe("stop");
    await expect(raceAbort(2, undefined)).resolves.toBe(2);
  });
});

describe("onAbort", () => {
  it("calls each callback once on abort; a stopped one is not called", () => {
    const controller = new AbortController();
    const called: number[] = [];
    const stops = [1, 2, 3].map((n) => onAbort(controller.signal, () => called.push(n)));
    stops[1]?.();
    controller.abort();
    controller.abort();
    expect(called).toEqual([1, 3]);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("waiters stopped in any order leave exactly the others waiting", () => {
    const controller = new AbortController();
    const called: number[] = [];
    const stops = Array.from({ length: 10 }, (_, n) =>
      onAbort(controller.signal, () => called.push(n)),
    );
    for (const n of [0, 9, 4, 5, 1]) stops[n]?.();
    stops[4]?.();
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    controller.abort();
    expect(called.sort((a, b) => a - b)).toEqual([2, 3, 6, 7, 8]);
    for (const stop of stops) stop();
    expect(called).toHaveLength(5);
  });

  it("stopping every waiter, in any order, removes the listener", () => {
    const controller = new AbortController();
    const stops = Array.from({ length: 10 }, () => onAbort(controller.signal, () => {}));
    for (const n of [0, 9, 4, 5, 1, 8, 2, 7, 3, 6]) {
      expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
      stops[n]?.();
    }
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("a waiter that another's callback stops during the abort is not called", () => {
    const controller = new AbortController();
    const called: string[] = [];
    let stopSecond = () => {};
    onAbort(controller.signal, () => {
      called.push("first");
      stopSecond();
    });
    stopSecond = onAbort(controller.signal, () => called.push("second"));
    onAbort(controller.signal, () => called.push("third"));
    controller.abort();
    expect(called).toEqual(["first", "third"]);
  });

  it("the last waiter to stop removes the listener; a new waiter adds it again", () => {
    const controller = new AbortController();
    const first = onAbort(controller.signal, () => {});
    const second = onAbort(controller.signal, () => {});
    first();
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    second();
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    let called = 0;
    onAbort(controller.signal, () => called++);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    controller.abort();
    expect(called).toBe(1);
  });

  it("on a signal that has aborted already, the callback runs at once", () => {
    const signal = AbortSignal.abort();
    let called = 0;
    onAbort(signal, () => called++)();
    expect(called).toBe(1);
  });
});

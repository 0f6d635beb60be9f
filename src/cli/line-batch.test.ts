import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { batchLines, LINE_BATCH_BYTES, LINE_BATCH_WAIT_MS, type LineBatch } from "./line-batch.js";

describe("batchLines", () => {
  let written: string[];
  let batch: LineBatch;

  beforeEach(() => {
    vi.useFakeTimers();
    written = [];
    batch = batchLines((text) => written.push(text));
  });

  afterEach(() => {
    batch.close();
    vi.useRealTimers();
  });

  it("writes the lines of a burst together, in order, once the wait is over", () => {
    batch.write("GET a 200");
    batch.write("GET b 429");
    vi.advanceTimersByTime(LINE_BATCH_WAIT_MS - 1);
    expect(written).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(written).toEqual(["GET a 200\nGET b 429"]);
    batch.write("GET c 200");
    vi.advanceTimersByTime(LINE_BATCH_WAIT_MS);
    expect(written).toEqual(["GET a 200\nGET b 429", "GET c 200"]);
  });

  it("keeps text of any script intact, also where a batch fills up", () => {
    const lines = Array.from(
      { length: 3_000 },
      (_, i) => `réponse ${i} 🚀 ünïcødé ${"€".repeat(i % 7)}`,
    );
    for (const line of lines) batch.write(line);
    batch.close();
    expect(written.length).toBeGreaterThan(1);
    expect(written.join("\n").split("\n")).toEqual(lines);
    for (const text of written) expect(Buffer.byteLength(text)).toBeLessThan(LINE_BATCH_BYTES);
  });

  it("writes a burst past its size at once, without waiting", () => {
    const line = "x".repeat(1_000);
    const lines = Math.ceil(LINE_BATCH_BYTES / line.length) + 1;
    for (let i = 0; i < lines; i++) batch.write(line);
    expect(written.length).toBeGreaterThan(0);
    vi.advanceTimersByTime(LINE_BATCH_WAIT_MS);
    expect(written.join("\n").split("\n")).toHaveLength(lines);
  });

  it("writes a line longer than a whole batch on its own, after the lines before it", () => {
    const long = "y".repeat(LINE_BATCH_BYTES);
    batch.write("before");
    batch.write(long);
    batch.write("after");
    vi.advanceTimersByTime(LINE_BATCH_WAIT_MS);
    expect(written).toEqual(["before", long, "after"]);
  });

  it("writes what it holds when closed, and nothing twice", () => {
    batch.write("held");
    batch.close();
    expect(written).toEqual(["held"]);
    vi.advanceTimersByTime(LINE_BATCH_WAIT_MS);
    batch.close();
    expect(written).toEqual(["held"]);
  });

  it("writes what it holds when the process exits", () => {
    // Only this batch's own exit listener is called: the test runner's must not be.
    const before = process.listeners("exit");
    const another = batchLines((text) => written.push(text));
    const [onExit] = process.listeners("exit").filter((l) => !before.includes(l));
    another.write("last words");
    onExit?.(0);
    expect(written).toEqual(["last words"]);
    another.close();
    expect(process.listeners("exit")).toEqual(before);
  });
});

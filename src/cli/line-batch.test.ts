import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { joinedLines, writeRequestLine } from "../gateway/log-lines.js";
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
    batch.text("GET a 200").end();
    batch.text("GET b 429").end();
    vi.advanceTimersByTime(LINE_BATCH_WAIT_MS - 1);
    expect(written).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(written).toEqual(["GET a 200\nGET b 429"]);
    batch.text("GET c 200").end();
    vi.advanceTimersByTime(LINE_BATCH_WAIT_MS);
    expect(written).toEqual(["GET a 200\nGET b 429", "GET c 200"]);
  });

  it("keeps text of any script intact, also where a batch fills up", () => {
    const lines = Array.from(
      { length: 3_000 },
      (_, i) => `réponse ${i} 🚀 ünïcødé ${"€".repeat(i % 7)}`,
    );
    for (const line of lines) batch.text(line).end();
    batch.close();
    expect(written.length).toBeGreaterThan(1);
    expect(written.join("\n").split("\n")).toEqual(lines);
    for (const text of written) expect(Buffer.byteLength(text)).toBeLessThan(LINE_BATCH_BYTES);
  });

  it("writes a burst past its size at once, without waiting", () => {
    const line = "x".repeat(1_000);
    const lines = Math.ceil(LINE_BATCH_BYTES / line.length) + 1;
    for (let i = 0; i < lines; i++) batch.text(line).end();
    expect(written.length).toBeGreaterThan(0);
    vi.advanceTimersByTime(LINE_BATCH_WAIT_MS);
    expect(written.join("\n").split("\n")).toHaveLength(lines);
  });

  it("writes a line longer than a whole batch on its own, after the lines before it", () => {
    const long = "y".repeat(LINE_BATCH_BYTES);
    batch.text("before").end();
    batch.text(long).end();
    batch.text("after").end();
    vi.advanceTimersByTime(LINE_BATCH_WAIT_MS);
    expect(written).toEqual(["before", long, "after"]);
  });

  it("writes what it holds when closed, and nothing twice", () => {
    batch.text("held").end();
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
    another.text("last words").end();
    onExit?.(0);
    expect(written).toEqual(["last words"]);
    another.close();
    expect(process.listeners("exit")).toEqual(before);
  });

  it("writes a line given in pieces as the same line given whole", () => {
    batch.text("GET ").text("bench ").text("/a/é/🚀?q=ü").text(" ").number(200).text(" ");
    batch.number(0).text(" ").number(1234567).text(" ").number(-3).text(" ").number(1.5).end();
    writeRequestLine(batch, "POST", undefined, "/x", 429, "cred-1", 7);
    batch.close();
    expect(written).toEqual([
      "GET bench /a/é/🚀?q=ü 200 0 1234567 -3 1.5\nPOST - /x 429 cred-1 7ms",
    ]);
  });

  it("moves a line begun where the batch fills up to the next batch, whole", () => {
    // A short piece then a long one: the long one is where the batch fills up, mid-line.
    const lines = Array.from({ length: 70 }, (_, i) => `line ${i}`.padEnd(10) + "z".repeat(990));
    for (const line of lines) batch.text(line.slice(0, 10)).text(line.slice(10)).end();
    batch.close();
    expect(written.length).toBeGreaterThan(1);
    expect(written.join("\n").split("\n")).toEqual(lines);
  });

  it("writes a line of pieces longer than a whole batch on its own, in its place", () => {
    const half = "w".repeat(LINE_BATCH_BYTES / 2);
    batch.text("before").end();
    batch.text(half).text(half).number(42).end();
    batch.text("after").end();
    vi.advanceTimersByTime(LINE_BATCH_WAIT_MS);
    expect(written).toEqual(["before", `${half}${half}42`, "after"]);
  });

  it("writes any pieces as the strings they join into would be written", () => {
    const piece = fc.oneof(
      fc.string({ unit: "binary", maxLength: 80 }).filter((s) => !s.includes("\n")),
      fc.nat(),
      fc.constantFrom(-1, 2.5, Number.MAX_SAFE_INTEGER + 2),
    );
    fc.assert(
      fc.property(fc.array(fc.array(piece, { maxLength: 8 }), { maxLength: 40 }), (lines) => {
        const out: string[] = [];
        const pieced = batchLines((text) => out.push(text));
        const expected: string[] = [];
        const joined = joinedLines((line) => expected.push(line));
        for (const line of lines) {
          for (const p of line) {
            if (typeof p === "number") {
              pieced.number(p);
              joined.number(p);
            } else {
              pieced.text(p);
              joined.text(p);
            }
          }
          pieced.end();
          joined.end();
        }
        pieced.close();
        const text = out.join("\n");
        // Lone surrogates become U+FFFD in UTF-8, as Buffer writes them.
        const toUtf8 = (s: string) => Buffer.from(s, "utf8").toString("utf8");
        expect(lines.length === 0 ? [] : text.split("\n")).toEqual(expected.map(toUtf8));
      }),
    );
  });
});

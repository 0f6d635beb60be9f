import { describe, expect, it } from "vitest";
import { type KeyMemo, KeyRing } from "./client-keys.js";

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe("KeyRing", () => {
  it("accepts a configured key in any of the three headers, and nothing else", () => {
    const ring = new KeyRing(["k-one", "k-two"]);
    expect(ring.accepts(bearer("k-two"))).toBe(true);
    expect(ring.accepts({ "x-api-key": "k-one" })).toBe(true);
    expect(ring.accepts({ "x-goog-api-key": "k-one" })).toBe(true);
    expect(ring.accepts(bearer("k-on"))).toBe(false);
    expect(ring.accepts({})).toBe(false);
  });

  it("remembers the key it accepted on a connection, and only for itself", () => {
    const ring = new KeyRing(["k-one"]);
    const memo: KeyMemo = { accepted: undefined };
    expect(ring.accepts(bearer("wrong"), memo)).toBe(false);
    expect(memo.accepted).toBeUndefined();
    expect(ring.accepts(bearer("k-one"), memo)).toBe(true);
    expect(memo.accepted?.ring).toBe(ring);
    expect(memo.accepted?.authorization).toBe("Bearer k-one");
    // A wrong key on the same connection is still refused.
    expect(ring.accepts(bearer("k-two"), memo)).toBe(false);
    // A ring built anew (a reload that dropped the key) does not take the memo's word for it.
    const reloaded = new KeyRing(["k-two"]);
    expect(reloaded.accepts(bearer("k-one"), memo)).toBe(false);
    expect(reloaded.accepts(bearer("k-two"), memo)).toBe(true);
    expect(memo.accepted?.ring).toBe(reloaded);
    // The same key in another header is checked again, then remembered that way.
    expect(reloaded.accepts({ "x-api-key": "k-one" }, memo)).toBe(false);
    expect(reloaded.accepts({ "x-api-key": "k-two" }, memo)).toBe(true);
    expect(memo.accepted?.xApiKey).toBe("k-two");
  });
});

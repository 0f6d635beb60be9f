import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LinkedRing, type RingNode } from "./ring.js";
import {
  fillFirst,
  leastBusy,
  roundRobin,
  type Selector,
  toSelector,
  weighted,
} from "./selector.js";

function node(i: number, weight = 1, inFlight = 0): RingNode {
  return {
    id: `n${i}`,
    order: i,
    weight,
    inFlight,
    prev: undefined,
    next: undefined,
    linked: false,
  };
}

function ringOf(nodes: RingNode[]): LinkedRing {
  const ring = new LinkedRing();
  for (const n of nodes) ring.link(n);
  return ring;
}

/** The contract every selector meets, whatever its policy. */
function selectorContract(name: string, make: () => Selector) {
  describe(`${name} (selector contract)`, () => {
    it("returns undefined on an empty ring", () => {
      expect(make().select(new LinkedRing(), () => true)).toBeUndefined();
    });

    it("never returns an unlinked node or one refused by accept", () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              linked: fc.boolean(),
              refused: fc.boolean(),
              weight: fc.integer({ min: 1, max: 5 }),
            }),
            {
              minLength: 1,
              maxLength: 20,
            },
          ),
          fc.integer({ min: 1, max: 30 }),
          (specs, picks) => {
            const nodes = specs.map((s, i) => node(i, s.weight));
            const ring = ringOf(nodes);
            specs.forEach((s, i) => {
              if (!s.linked) ring.unlink(nodes[i]!);
            });
            const selector = make();
            const refused = new Set(specs.flatMap((s, i) => (s.refused ? [`n${i}`] : [])));
            const eligible = specs.some((s) => s.linked && !s.refused);
            for (let p = 0; p < picks; p++) {
              const got = selector.select(ring, (c) => !refused.has(c.id));
              if (!eligible) {
                expect(got).toBeUndefined();
              } else {
                expect(got).toBeDefined();
                expect(got!.linked).toBe(true);
                expect(refused.has(got!.id)).toBe(false);
              }
            }
          },
        ),
      );
    });
  });
}

selectorContract("round-robin", roundRobin);
selectorContract("weighted", weighted);
selectorContract("least-busy", leastBusy);
selectorContract("fill-first", fillFirst);

describe("ring", () => {
  it("keeps pool order whatever order nodes come back in", () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
        fc.integer(),
        (flags, seed) => {
          const nodes = flags.map((_, i) => node(i));
          const ring = ringOf(nodes);
          nodes.forEach((n, i) => {
            if (flags[i]) ring.unlink(n);
          });
          const back = nodes.filter((_, i) => flags[i]);
          // relink in a shuffled order
          back.sort((a, b) => ((a.order * 7919 + seed) % 101) - ((b.order * 7919 + seed) % 101));
          for (const n of back) ring.link(n);
          expect([...ring].map((n) => n.order)).toEqual(nodes.map((n) => n.order));
          expect(ring.size).toBe(nodes.length);
        },
      ),
    );
  });
});

describe("policies", () => {
  it("round-robin serves in pool order and wraps", () => {
    const ring = ringOf([node(0), node(1), node(2)]);
    const s = roundRobin();
    expect(Array.from({ length: 5 }, () => s.select(ring, () => true)!.id)).toEqual([
      "n0",
      "n1",
      "n2",
      "n0",
      "n1",
    ]);
  });

  it("weighted picks converge on the weights, interleaved", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 6 }),
        (weights) => {
          const ring = ringOf(weights.map((w, i) => node(i, w)));
          const s = weighted();
          const total = weights.reduce((a, b) => a + b, 0);
          const counts = new Map<string, number>();
          for (let i = 0; i < total * 10; i++) {
            const id = s.select(ring, () => true)!.id;
            counts.set(id, (counts.get(id) ?? 0) + 1);
          }
          // smooth weighted round-robin is exact over every full cycle of the total weight
          for (const [i, w] of weights.entries()) expect(counts.get(`n${i}`)).toBe(w * 10);
        },
      ),
    );
  });

  it("least-busy picks the fewest requests in flight", () => {
    const ring = ringOf([node(0, 1, 5), node(1, 1, 2), node(2, 1, 7)]);
    expect(leastBusy().select(ring, () => true)!.id).toBe("n1");
  });

  it("fill-first takes the first in pool order", () => {
    const nodes = [node(0), node(1), node(2)];
    const ring = ringOf(nodes);
    const s = fillFirst();
    expect(s.select(ring, () => true)!.id).toBe("n0");
    ring.unlink(nodes[0]!);
    expect(s.select(ring, () => true)!.id).toBe("n1");
  });

  it("an unknown name is a TypeError naming the choices", () => {
    expect(() => toSelector("random" as never)).toThrow(
      /round-robin, weighted, least-busy, fill-first/,
    );
  });
});

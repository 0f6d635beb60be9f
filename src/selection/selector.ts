/**
 * Selection strategies. Each picks among the credentials available now (the ring), never among
 * those in backoff, so their cost does not grow with the number of credentials cooling down.
 * @module
 */
import type { AvailabilityRing, Candidate } from "./ring.js";

/** The built-in strategies, by name. */
export type SelectionName = "round-robin" | "weighted" | "least-busy" | "fill-first";

/**
 * A selection strategy. `accept` says whether a candidate may be used by this request (it is
 * false for credentials this request already tried); return undefined when none is acceptable.
 */
export interface Selector {
  readonly name: string;
  select<N extends Candidate>(
    ring: AvailabilityRing<N>,
    accept: (c: Candidate) => boolean,
  ): N | undefined;
  /** Forget any state kept about a credential that left the pool. */
  forget?(id: string): void;
}

/*
 * The stateless strategies are one shared object each: every manager then calls the same
 * function on its hot path, which V8 keeps optimised however many managers come and go.
 */

const ROUND_ROBIN: Selector = Object.freeze({
  name: "round-robin",
  select(ring, accept) {
    let node = ring.cursor;
    for (let i = 0; node && i < ring.size; i++) {
      const next = ring.nextOf(node);
      if (accept(node)) {
        ring.cursor = next;
        return node;
      }
      node = next;
    }
    return undefined;
  },
} satisfies Selector);

const FILL_FIRST: Selector = Object.freeze({
  name: "fill-first",
  select(ring, accept) {
    for (const node of ring) if (accept(node)) return node;
    return undefined;
  },
} satisfies Selector);

const LEAST_BUSY: Selector = Object.freeze({
  name: "least-busy",
  select(ring, accept) {
    let node = ring.cursor;
    let best: typeof node;
    for (let i = 0; node && i < ring.size; i++) {
      if (accept(node) && (!best || node.inFlight < best.inFlight)) best = node;
      node = ring.nextOf(node);
    }
    if (best) ring.cursor = ring.nextOf(best);
    return best;
  },
} satisfies Selector);

/** Round-robin in pool order: the 1st call gets the 1st credential, the 2nd the 2nd, and so on. */
export function roundRobin(): Selector {
  return ROUND_ROBIN;
}

/** Always the first available credential in pool order: primary, then backups. */
export function fillFirst(): Selector {
  return FILL_FIRST;
}

/** The available credential with the fewest requests in flight; ties go in round-robin order. */
export function leastBusy(): Selector {
  return LEAST_BUSY;
}

/**
 * Smooth weighted round-robin (as in nginx): over any window, each credential serves in
 * proportion to its weight, interleaved rather than in bursts.
 */
export function weighted(): Selector {
  const current = new Map<string, number>();
  return {
    name: "weighted",
    select(ring, accept) {
      let total = 0;
      let best: (typeof ring extends AvailabilityRing<infer N> ? N : never) | undefined;
      let bestScore = Number.NEGATIVE_INFINITY;
      for (const node of ring) {
        if (!accept(node) || node.weight <= 0) continue;
        const score = (current.get(node.id) ?? 0) + node.weight;
        current.set(node.id, score);
        total += node.weight;
        if (score > bestScore) {
          bestScore = score;
          best = node;
        }
      }
      if (best) current.set(best.id, bestScore - total);
      return best;
    },
    forget(id) {
      current.delete(id);
    },
  };
}

/** Builds a selector from its name, or returns the one given. */
export function toSelector(selection: SelectionName | Selector | undefined): Selector {
  if (selection === undefined) return roundRobin();
  if (typeof selection === "object") return selection;
  switch (selection) {
    case "round-robin":
      return roundRobin();
    case "weighted":
      return weighted();
    case "least-busy":
      return leastBusy();
    case "fill-first":
      return fillFirst();
    default:
      throw new TypeError(
        `Expected \`selection\` to be one of round-robin, weighted, least-busy, fill-first, got ${JSON.stringify(selection)}`,
      );
  }
}

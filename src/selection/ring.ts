/**
 * The credentials that can be selected right now, as a circular doubly-linked list kept in pool
 * order. A credential entering backoff is unlinked in O(1), so selection never walks over the
 * ones that are cooling down; one coming back is linked in at its place in pool order.
 * @module
 */

/** What a selector sees of a credential. */
export interface Candidate {
  readonly id: string;
  /** Position in the pool: lower was added earlier. */
  readonly order: number;
  /** Share under weighted selection. */
  readonly weight: number;
  /** Requests currently running on this credential. */
  readonly inFlight: number;
}

/**
 * The credentials available now, as a selector sees them: in pool order from any node, wrapping
 * around, with the round-robin cursor it may move. Only the pool links and unlinks nodes.
 */
export interface AvailabilityRing<N extends Candidate = Candidate> {
  /** How many credentials are available. */
  readonly size: number;
  /** The node round-robin serves next; a selector moves it past the node it picked. */
  cursor: N | undefined;
  /** The node after `node` in pool order, wrapping around. */
  nextOf(node: N): N;
  /** Available nodes in pool order. */
  [Symbol.iterator](): IterableIterator<N>;
}

/** A ring node. Selectors read it; only the ring changes the links. */
export interface RingNode extends Candidate {
  prev: RingNode | undefined;
  next: RingNode | undefined;
  linked: boolean;
}

/** The pool's {@link AvailabilityRing}: a circular doubly-linked list kept in pool order. */
export class LinkedRing<N extends RingNode = RingNode> implements AvailabilityRing<N> {
  #head: N | undefined;
  #size = 0;
  /** The node round-robin serves next; moved on when it is unlinked. */
  cursor: N | undefined;

  get size(): number {
    return this.#size;
  }

  /** The node after `node` in pool order, wrapping around. */
  nextOf(node: N): N {
    return node.next as N;
  }

  /** Links `node` in at its place in pool order. Walks only over available nodes. */
  link(node: N): void {
    if (node.linked) return;
    node.linked = true;
    this.#size++;
    const head = this.#head;
    if (!head) {
      node.next = node;
      node.prev = node;
      this.#head = node;
      this.cursor = node;
      return;
    }
    // Most nodes come back at the end (they were added last, or recover in order): check the
    // tail first, then walk forwards.
    let after = head.prev as N;
    if (node.order < after.order) {
      after = head;
      if (node.order < head.order) {
        after = head.prev as N;
        this.#head = node;
      } else {
        while ((after.next as N) !== head && (after.next as N).order < node.order) {
          after = after.next as N;
        }
      }
    }
    const before = after.next as N;
    node.prev = after;
    node.next = before;
    after.next = node;
    before.prev = node;
  }

  /** Unlinks `node`; O(1). */
  unlink(node: N): void {
    if (!node.linked) return;
    node.linked = false;
    this.#size--;
    if (this.#size === 0) {
      this.#head = undefined;
      this.cursor = undefined;
    } else {
      const prev = node.prev as N;
      const next = node.next as N;
      prev.next = next;
      next.prev = prev;
      if (this.#head === node) this.#head = next;
      if (this.cursor === node) this.cursor = next;
    }
    node.prev = undefined;
    node.next = undefined;
  }

  /** Available nodes in pool order, from the head. */
  *[Symbol.iterator](): IterableIterator<N> {
    const head = this.#head;
    if (!head) return;
    let node = head;
    do {
      yield node;
      node = node.next as N;
    } while (node !== head);
  }
}

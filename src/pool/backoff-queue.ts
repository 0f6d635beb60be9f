/**
 * A min-heap of backoff deadlines. Entries are never updated in place: a changed deadline pushes
 * a new entry and the old one is skipped when it surfaces (`isCurrent` says which is which).
 * @module
 */

interface Item<T> {
  deadline: number;
  value: T;
}

export class BackoffQueue<T> {
  #heap: Item<T>[] = [];

  constructor(private readonly isCurrent: (value: T, deadline: number) => boolean) {}

  get size(): number {
    return this.#heap.length;
  }

  push(value: T, deadline: number): void {
    const heap = this.#heap;
    heap.push({ deadline, value });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.deadline <= heap[i]!.deadline) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  /** Whether some entry (current or stale) is due at `now`: the cheap check for the hot path. */
  hasDue(now: number): boolean {
    return this.#heap.length > 0 && this.#heap[0]!.deadline <= now;
  }

  /** Removes every entry due at `now`, handing each current value to `take`. */
  popDue(now: number, take: (value: T) => void): void {
    while (this.#heap.length > 0 && this.#heap[0]!.deadline <= now) {
      const top = this.#pop();
      if (this.isCurrent(top.value, top.deadline)) take(top.value);
    }
  }

  /** The soonest current deadline, dropping stale entries on the way; undefined when none. */
  peekDeadline(): number | undefined {
    while (this.#heap.length > 0) {
      const top = this.#heap[0]!;
      if (this.isCurrent(top.value, top.deadline)) return top.deadline;
      this.#pop();
    }
    return undefined;
  }

  /** The value with the soonest current deadline, dropping stale entries; undefined when none. */
  peek(): T | undefined {
    return this.peekDeadline() === undefined ? undefined : this.#heap[0]!.value;
  }

  /** Drops stale entries; call when the heap has grown well past the number of live values. */
  compact(): void {
    const live = this.#heap.filter((item) => this.isCurrent(item.value, item.deadline));
    this.#heap = [];
    for (const item of live) this.push(item.value, item.deadline);
  }

  #pop(): Item<T> {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let smallest = i;
        if (l < heap.length && heap[l]!.deadline < heap[smallest]!.deadline) smallest = l;
        if (r < heap.length && heap[r]!.deadline < heap[smallest]!.deadline) smallest = r;
        if (smallest === i) break;
        [heap[smallest], heap[i]] = [heap[i]!, heap[smallest]!];
        i = smallest;
      }
    }
    return top;
  }
}

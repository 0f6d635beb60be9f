/**
 * The numbers of many credentials packed into a few shared typed arrays. A typed array costs
 * about 200 bytes of bookkeeping before its first element, more than the counters of a credential
 * themselves; one pair of arrays per block of credentials keeps that cost off each credential.
 * @module
 */

/** Slots per block, doubling from the first to the last: a small pool stays small. */
const FIRST_BLOCK_SLOTS = 4;
const MAX_BLOCK_SLOTS = 256;

/** Where one slot's numbers live: views shared by every slot of its block, and its offsets. */
export interface Slot {
  readonly floats: Float64Array;
  readonly floatBase: number;
  readonly counts: Uint16Array;
  readonly countBase: number;
  /** The slot's number in its table. */
  readonly index: number;
}

interface Block {
  readonly size: number;
  readonly floats: Float64Array;
  readonly counts: Uint16Array;
  /** The index of the block's first slot. */
  readonly base: number;
}

/**
 * Fixed-size records of `floatWidth` doubles and `countWidth` 16-bit counts, allocated and freed
 * by slot. Released slots are zeroed and reused first, so a pool whose credentials come and go
 * keeps the memory of its largest size, never of every credential it ever had.
 */
export class MetricsTable {
  readonly floatWidth: number;
  readonly countWidth: number;
  readonly #blocks: Block[] = [];
  readonly #free: number[] = [];
  #capacity = 0;

  constructor(floatWidth: number, countWidth: number) {
    this.floatWidth = floatWidth;
    this.countWidth = countWidth;
  }

  /** Slots handed out and not released. */
  get used(): number {
    return this.#capacity - this.#free.length;
  }

  /** A zeroed slot. */
  allocate(): Slot {
    if (this.#free.length === 0) this.#grow();
    return this.#slot(this.#free.pop() as number);
  }

  /** Gives a slot back; its numbers are zeroed before anyone else gets it. */
  release(slot: Slot): void {
    const { floats, floatBase, counts, countBase } = slot;
    floats.fill(0, floatBase, floatBase + this.floatWidth);
    counts.fill(0, countBase, countBase + this.countWidth);
    this.#free.push(slot.index);
  }

  #grow(): void {
    const last = this.#blocks.at(-1);
    const size = last ? Math.min(2 * last.size, MAX_BLOCK_SLOTS) : FIRST_BLOCK_SLOTS;
    this.#blocks.push({
      size,
      floats: new Float64Array(size * this.floatWidth),
      counts: new Uint16Array(size * this.countWidth),
      base: this.#capacity,
    });
    // Highest index first in the free list, so slots are handed out in ascending order.
    for (let i = this.#capacity + size - 1; i >= this.#capacity; i--) this.#free.push(i);
    this.#capacity += size;
  }

  #slot(index: number): Slot {
    let lo = 0;
    let hi = this.#blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.#blocks[mid] as Block).base <= index) lo = mid;
      else hi = mid - 1;
    }
    const block = this.#blocks[lo] as Block;
    const offset = index - block.base;
    return {
      floats: block.floats,
      floatBase: offset * this.floatWidth,
      counts: block.counts,
      countBase: offset * this.countWidth,
      index,
    };
  }
}

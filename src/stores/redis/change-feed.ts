/**
 * The changes other processes make to a `RedisTokenStore`, as its scripts announce them on one
 * pub/sub channel: passed to watchers, and used to wake a process waiting for a lock the moment
 * its holder lets go. Pub/sub drops messages while a connection is down, so watchers are also
 * told to re-read (`resync`) whenever the subscription comes back, and every so often.
 * @module
 */
import type { Redis } from "ioredis";
import { onAbort } from "../../abort.js";
import { parseRecord } from "../../describe.js";
import type { HealthMark, StoreChange } from "../shared-state.js";

/** What {@link ChangeFeed} needs. */
export interface ChangeFeedOptions {
  /** Opens the subscriber connection (the feed owns and closes it). */
  connect: () => Redis;
  channel: string;
  /** This store's name in messages: its own changes are not passed to its watchers. */
  origin: string;
  /** Watchers are told to re-read this often, in case a message was lost. */
  resyncIntervalMs: number;
}

interface Watcher {
  prefix: string;
  listener: (change: StoreChange) => void;
}

/** A wait for the next message about one key (a save or a release). */
export interface KeyWake {
  /** Resolves at the next message about the key (or at once if one came since) or after `ms`. */
  wait(ms: number, signal: AbortSignal | undefined): Promise<void>;
  /** Stops listening; a wait under way ends. */
  cancel(): void;
}

/** One message as the scripts publish it. */
interface Message {
  t: string;
  k: string;
  o: string;
  v?: number;
  kind?: string;
  ms?: number;
  s?: string;
}

export class ChangeFeed {
  readonly #options: ChangeFeedOptions;
  readonly #watchers = new Set<Watcher>();
  /** By key: what to call at the next message about it. */
  readonly #wakers = new Map<string, Set<() => void>>();
  #subscriber: Redis | undefined;
  #live = false;
  #closed = false;
  #resyncTimer: NodeJS.Timeout | undefined;

  constructor(options: ChangeFeedOptions) {
    this.#options = options;
  }

  /** Subscribed now: a release will be announced to a waiter. */
  get live(): boolean {
    return this.#live;
  }

  /** Opens the subscriber connection, once. Its failures are absorbed: it reconnects by itself. */
  start(): void {
    if (this.#subscriber || this.#closed) return;
    const subscriber = this.#options.connect();
    this.#subscriber = subscriber;
    // A Redis that is down must not crash the process: the connection retries, and the
    // subscription is made again (followed by a resync) each time it is ready.
    subscriber.on("error", () => {});
    subscriber.on("message", (_channel: string, text: string) => this.#onMessage(text));
    subscriber.on("close", () => {
      this.#live = false;
    });
    subscriber.on("ready", () => {
      subscriber.subscribe(this.#options.channel).then(
        () => {
          if (this.#closed || subscriber.status !== "ready") return;
          this.#live = true;
          this.#emit({ type: "resync" });
        },
        () => {},
      );
    });
    // A copy of a client made with `lazyConnect` would wait for a command that never comes.
    if (subscriber.status === "wait") subscriber.connect().catch(() => {});
  }

  /** Calls `listener` with other stores' changes to keys under `prefix`; returns a stop function. */
  watch(prefix: string, listener: (change: StoreChange) => void): () => void {
    const watcher: Watcher = { prefix, listener };
    this.#watchers.add(watcher);
    this.start();
    this.#armResync();
    return () => {
      this.#watchers.delete(watcher);
      if (this.#watchers.size === 0) this.#stopResync();
    };
  }

  /** Starts listening for the next message about `key`, before the caller checks Redis. */
  wake(key: string): KeyWake {
    let fired = false;
    let done: (() => void) | undefined;
    const fire = () => {
      fired = true;
      done?.();
    };
    let set = this.#wakers.get(key);
    if (!set) {
      set = new Set();
      this.#wakers.set(key, set);
    }
    set.add(fire);
    const cancel = () => {
      const current = this.#wakers.get(key);
      current?.delete(fire);
      if (current?.size === 0) this.#wakers.delete(key);
      done?.();
    };
    return {
      cancel,
      wait: (ms, signal) => {
        if (fired) return Promise.resolve();
        if (signal?.aborted) return Promise.reject(signal.reason);
        return new Promise<void>((resolve, reject) => {
          let stopWatching = (): void => {};
          const settle = (aborted: boolean) => {
            clearTimeout(timer);
            stopWatching();
            done = undefined;
            if (aborted) reject(signal?.reason);
            else resolve();
          };
          const timer = setTimeout(() => settle(false), ms);
          done = () => settle(false);
          if (signal) stopWatching = onAbort(signal, () => settle(true));
        });
      },
    };
  }

  /** Tells the watchers to re-read (the store's connection is back after a loss). */
  resync(): void {
    if (!this.#closed) this.#emit({ type: "resync" });
  }

  /** Closes the subscriber connection and stops every call. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#live = false;
    this.#stopResync();
    this.#watchers.clear();
    for (const set of this.#wakers.values()) for (const fire of set) fire();
    this.#wakers.clear();
    this.#subscriber?.disconnect();
  }

  #onMessage(text: string): void {
    const message = parse(text);
    if (!message) return;
    const wakers = this.#wakers.get(message.k);
    if (wakers) for (const fire of wakers) fire();
    if (message.o === this.#options.origin) return;
    const change = toChange(message);
    if (change) this.#emit(change);
  }

  #emit(change: StoreChange): void {
    for (const watcher of [...this.#watchers]) {
      if (change.type !== "resync" && !change.key.startsWith(watcher.prefix)) continue;
      try {
        watcher.listener(change);
      } catch {
        // A watcher's failure is its own; the others still hear of the change.
      }
    }
  }

  #armResync(): void {
    if (this.#resyncTimer || this.#closed) return;
    this.#resyncTimer = setInterval(() => {
      if (this.#live) this.#emit({ type: "resync" });
    }, this.#options.resyncIntervalMs);
    this.#resyncTimer.unref();
  }

  #stopResync(): void {
    clearInterval(this.#resyncTimer);
    this.#resyncTimer = undefined;
  }
}

function parse(text: string): Message | undefined {
  const m = parseRecord(text) as Partial<Message> | undefined;
  if (!m || typeof m.t !== "string" || typeof m.k !== "string" || typeof m.o !== "string") {
    return undefined;
  }
  return m as Message;
}

function toChange(m: Message): StoreChange | undefined {
  switch (m.t) {
    case "saved":
      return typeof m.v === "number" ? { type: "saved", key: m.k, version: m.v } : undefined;
    case "deleted":
      return { type: "deleted", key: m.k };
    case "health": {
      if ((m.kind !== "cooldown" && m.kind !== "needs_reauth") || typeof m.ms !== "number") {
        return undefined;
      }
      const mark: HealthMark = { kind: m.kind, remainingMs: m.ms };
      if (typeof m.s === "string") mark.scope = m.s;
      return { type: "health", key: m.k, mark };
    }
    default:
      return undefined;
  }
}

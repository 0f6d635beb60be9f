/**
 * Sections 1 and 2: what `executeWithFailover` and `getNextCredential` cost per call, against a
 * bare call of the same operation, and whether credentials in backoff slow selection down.
 * @module
 */
import { OAuthKeyManager } from "oauthmanager";
import { freshCredentials, op, RATE_LIMITED } from "./fixtures.js";
import { type MeasureOptions, measure, type Timing } from "./timing.js";

/** Keeps the clock reads from being dropped. */
export let sink: unknown;

export interface OverheadFigures {
  bare: Timing;
  pool3: Timing;
  pool1000: Timing;
  /** What one `Date.now()` costs here, ns (the median of several runs of a million reads). */
  clockReadNs: number;
}

export interface BackoffFigures {
  next10: Timing;
  next10k: Timing;
  exec10: Timing;
  exec10k: Timing;
  /** Credentials the 10,000 pool reported in backoff (checks the setup). */
  inBackoff: number;
}

/** Section 1: a bare `await op(cred)` against the same call through pools of 3 and 1,000. */
export async function measureOverhead(options: MeasureOptions): Promise<OverheadFigures> {
  const cred = freshCredentials(1)[0]!;
  // The manager hands operations a signal it already holds; so does the bare call.
  const signal = new AbortController().signal;
  const pool3 = new OAuthKeyManager("bench", freshCredentials(3));
  const pool1000 = new OAuthKeyManager("bench", freshCredentials(1_000));
  try {
    const t = await measure(
      {
        bare: () => op(cred, signal),
        pool3: () => pool3.executeWithFailover(op),
        pool1000: () => pool1000.executeWithFailover(op),
      },
      options,
    );
    return {
      bare: t.get("bare")!,
      pool3: t.get("pool3")!,
      pool1000: t.get("pool1000")!,
      clockReadNs: clockReadNs(),
    };
  } finally {
    await Promise.all([pool3.close(), pool1000.close()]);
  }
}

/**
 * What one read of the wall clock costs, ns. Timed apart, in a loop of its own: a manager on a
 * clock of the benchmark's making would share call sites with the ones measured and slow them.
 */
function clockReadNs(): number {
  const reads = 1_000_000;
  const runs: number[] = [];
  let last = 0;
  for (let run = 0; run < 7; run++) {
    const start = performance.now();
    for (let i = 0; i < reads; i++) last = Date.now();
    runs.push(((performance.now() - start) * 1e6) / reads);
  }
  sink = last;
  runs.sort((a, b) => a - b);
  return runs[runs.length >> 1]!;
}

/**
 * Section 2: 10,000 credentials of which 9,990 sit in backoff (a 429 with a 1 h Retry-After),
 * against 10 credentials none in backoff. Equal figures mean selection never walks the ones in
 * backoff.
 */
export async function measureBackoff(options: MeasureOptions): Promise<BackoffFigures> {
  const small = new OAuthKeyManager("bench", freshCredentials(10));
  const large = new OAuthKeyManager("bench", freshCredentials(10_000));
  // Every 1,000th credential stays available, so the 10 left are spread through the pool.
  for (let i = 0; i < 10_000; i++) {
    if (i % 1_000 !== 0) large.reportFailure(`cred-${i}`, RATE_LIMITED);
  }
  const inBackoff = large.getHealthSummary().credentialsInBackoff;
  try {
    const t = await measure(
      {
        next10: () => small.getNextCredential(),
        next10k: () => large.getNextCredential(),
        exec10: () => small.executeWithFailover(op),
        exec10k: () => large.executeWithFailover(op),
      },
      options,
    );
    return {
      next10: t.get("next10")!,
      next10k: t.get("next10k")!,
      exec10: t.get("exec10")!,
      exec10k: t.get("exec10k")!,
      inBackoff,
    };
  } finally {
    await Promise.all([small.close(), large.close()]);
  }
}

export interface ScopedFigures {
  exec10: Timing;
  exec10k: Timing;
  /** Credentials the 10,000 pool reported cooling in the scope (checks the setup). */
  coolingInScope: number;
  pool3: Timing;
  pool3Session: Timing;
}

const SCOPE = "bench-model";

/**
 * Section 2, under a scope: 10,000 credentials of which 9,990 cool down in the scope only (a
 * 429 with a 1 h Retry-After under `{ scope }`), against 10 credentials none cooling; and the
 * happy path on 3 credentials with a `sessionKey` against the same without one.
 */
export async function measureScoped(options: MeasureOptions): Promise<ScopedFigures> {
  const small = new OAuthKeyManager("bench", freshCredentials(10));
  const large = new OAuthKeyManager("bench", freshCredentials(10_000));
  const plain = new OAuthKeyManager("bench", freshCredentials(3));
  const sticky = new OAuthKeyManager("bench", freshCredentials(3));
  // Every 1,000th credential stays available in the scope; each call below is turned away by
  // the others in turn (a 429 under the scope) until one of those serves it.
  const kept = (id: string) => Number(id.slice("cred-".length)) % 1_000 === 0;
  const turnAway: typeof op = async (cred) => {
    if (kept(cred.id)) return { result: cred.id };
    throw RATE_LIMITED;
  };
  for (let i = 0; i < 12; i++) {
    await large.executeWithFailover(turnAway, { scope: SCOPE, maxAttempts: 10_000 });
  }
  const coolingInScope = Object.keys(
    large.getHealthSummary().scopedCooldowns?.[SCOPE] ?? {},
  ).length;
  const scoped = { scope: SCOPE };
  const session = { sessionKey: "bench-session" };
  try {
    const t = await measure(
      {
        exec10: () => small.executeWithFailover(op, scoped),
        exec10k: () => large.executeWithFailover(op, scoped),
        pool3: () => plain.executeWithFailover(op),
        pool3Session: () => sticky.executeWithFailover(op, session),
      },
      options,
    );
    return {
      exec10: t.get("exec10")!,
      exec10k: t.get("exec10k")!,
      coolingInScope,
      pool3: t.get("pool3")!,
      pool3Session: t.get("pool3Session")!,
    };
  } finally {
    await Promise.all([small.close(), large.close(), plain.close(), sticky.close()]);
  }
}

/**
 * Sections 1 and 2: what `executeWithFailover` and `getNextCredential` cost per call, against a
 * bare call of the same operation, and whether credentials in backoff slow selection down.
 * @module
 */
import { OAuthKeyManager } from "oauthmanager";
import { freshCredentials, op, RATE_LIMITED } from "./fixtures.js";
import { type MeasureOptions, measure, type Timing } from "./timing.js";

export interface OverheadFigures {
  bare: Timing;
  pool3: Timing;
  pool1000: Timing;
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
    return { bare: t.get("bare")!, pool3: t.get("pool3")!, pool1000: t.get("pool1000")! };
  } finally {
    await Promise.all([pool3.close(), pool1000.close()]);
  }
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

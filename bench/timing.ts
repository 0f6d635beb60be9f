/**
 * Per-call timings with tinybench. One call takes well under a microsecond, less than the timer
 * can resolve reliably, so every sample times a batch of sequential awaited calls and reports the
 * batch's mean per call (`overriddenDuration`); the time budget counts the whole batch
 * (`overriddenIterationCost`).
 * @module
 */
import { Bench, type FnReturnedObject } from "tinybench";

/** Calls timed together in one sample. */
export const BATCH = 1_000;

/**
 * One task's figures, per single call. The headline is the median of the batch means: on a
 * shared machine another process taking the core inflates a few batches tenfold, which moves the
 * mean by more than the differences being measured, and not the median. The mean is kept beside
 * it (it also carries the occasional garbage collection).
 */
export interface Timing {
  /** Median nanoseconds per call (over batch means): the headline figure. */
  ns: number;
  /** Mean nanoseconds per call. */
  mean: number;
  /** Relative margin of error of the mean, in percent. */
  rme: number;
  /** Batches measured. */
  samples: number;
}

export interface MeasureOptions {
  /** Measured time per task, ms. */
  timeMs: number;
  /** Warm-up time per task, ms (lets V8 optimise the paths before sampling). */
  warmupMs: number;
}

/** Results land here so that V8 cannot drop a call whose result nobody reads. */
export let sink: unknown;

/**
 * Times each `call` (one awaited operation) and returns its per-call figures, by task name.
 * Tasks run one after another, never concurrently.
 */
export async function measure(
  calls: Readonly<Record<string, () => Promise<unknown>>>,
  options: MeasureOptions,
): Promise<Map<string, Timing>> {
  const bench = new Bench({
    time: options.timeMs,
    warmupTime: options.warmupMs,
    iterations: 16,
    warmupIterations: 8,
    throws: true,
    // Each task starts from a collected heap, so it does not pay for the previous one's garbage.
    setup: () => globalThis.gc?.(),
  });
  for (const [name, call] of Object.entries(calls)) {
    bench.add(name, async (): Promise<FnReturnedObject> => {
      const start = performance.now();
      for (let i = 0; i < BATCH; i++) sink = await call();
      const elapsed = performance.now() - start;
      return { overriddenDuration: elapsed / BATCH, overriddenIterationCost: elapsed };
    });
  }
  await bench.run();

  const out = new Map<string, Timing>();
  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state !== "completed") {
      const why = r.state === "errored" ? `: ${String(r.error)}` : "";
      throw new Error(`benchmark task "${task.name}" ended ${r.state}${why}`);
    }
    out.set(task.name, {
      ns: r.latency.p50 * 1e6,
      mean: r.latency.mean * 1e6,
      rme: r.latency.rme,
      samples: task.runs,
    });
  }
  return out;
}

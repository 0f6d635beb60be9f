/**
 * Loaded into both proxies of section 9 (`node --expose-gc --import`): a SIGUSR2 collects the
 * garbage, so that the memory figure measures what open streams hold, not how much garbage the
 * load before them left and when V8 happened to collect it.
 */
process.on("SIGUSR2", () => {
  globalThis.gc?.();
});

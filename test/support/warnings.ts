/** The process warnings (`MaxListenersExceededWarning` …) emitted while each test of a file runs. */
import { afterEach, beforeEach } from "vitest";

export function captureWarnings(): { readonly list: Error[]; settled(): Promise<void> } {
  const list: Error[] = [];
  const onWarning = (w: Error) => list.push(w);
  beforeEach(() => {
    list.length = 0;
    process.on("warning", onWarning);
  });
  afterEach(() => {
    process.off("warning", onWarning);
  });
  return {
    list,
    /** Warnings are emitted on a later tick. */
    settled: () => new Promise<void>((resolve) => setImmediate(resolve)),
  };
}

/**
 * The rotation record: one shape for the manager's memory, the stores and callers
 * (`StoredRotation` and the public `RotationState` are the same fields), and its one copy.
 * @module
 */
import type { StoredRotation } from "./types.js";

/**
 * A deep copy with fresh Dates and no `undefined` fields, so neither side of a hand-over (a
 * caller, a store, the manager) can change the other's record.
 */
export function copyRotation(r: Readonly<StoredRotation>): StoredRotation {
  const out: StoredRotation = {
    createdAt: new Date(r.createdAt.getTime()),
    markedForRotation: r.markedForRotation,
  };
  if (r.rotationStartedAt !== undefined) {
    out.rotationStartedAt = new Date(r.rotationStartedAt.getTime());
  }
  if (r.replacementId !== undefined) out.replacementId = r.replacementId;
  if (r.decommissionAt !== undefined) out.decommissionAt = new Date(r.decommissionAt.getTime());
  return out;
}

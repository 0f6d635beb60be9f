import { describe, expect, it } from "vitest";
import { copyRotation } from "./rotation-record.js";

describe("copyRotation", () => {
  it("copies every field with fresh Dates and leaves absent ones out", () => {
    const full = {
      createdAt: new Date(1),
      markedForRotation: true,
      rotationStartedAt: new Date(2),
      replacementId: "b",
      decommissionAt: new Date(3),
    };
    const copy = copyRotation(full);
    expect(copy).toEqual(full);
    expect(copy.createdAt).not.toBe(full.createdAt);
    expect(copy.decommissionAt).not.toBe(full.decommissionAt);
    expect(Object.keys(copyRotation({ createdAt: new Date(1), markedForRotation: false }))).toEqual(
      ["createdAt", "markedForRotation"],
    );
  });
});

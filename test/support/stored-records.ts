/** Every record a file store holds, read through the store itself (it may be encrypted). */
import { FileTokenStore } from "../../src/stores/file-store.js";
import type { StoredToken } from "../../src/stores/types.js";

export async function storedRecords(path: string): Promise<Map<string, StoredToken>> {
  const store = new FileTokenStore({ path });
  try {
    return await store.loadAll("");
  } finally {
    await store.close();
  }
}

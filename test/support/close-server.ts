/** Closes a test's HTTP server at once: open keep-alive connections included. */
import type { Server } from "node:http";

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

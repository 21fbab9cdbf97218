import { readFileSync } from "node:fs";
import { createServer } from "node:tls";

/**
 * A stand-in for registry:2 in tests that need no Docker: serves the certificate files given
 * in argv over TLS on 127.0.0.1, and, like a restarted registry, reads them again on SIGHUP.
 * Prints the port, then "reloaded" after each SIGHUP.
 */
const [certFile = "", keyFile = ""] = process.argv.slice(2);
const context = () => ({ cert: readFileSync(certFile), key: readFileSync(keyFile) });
const server = createServer(context(), (socket) => socket.end());
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${typeof address === "object" && address ? address.port : 0}\n`);
});
process.on("SIGHUP", () => {
  server.setSecureContext(context());
  process.stdout.write("reloaded\n");
});
// Closing the listener ends the process once its handshakes are done.
process.on("SIGTERM", () => server.close());

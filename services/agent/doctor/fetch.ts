import { isIP } from "node:net";
import { connect } from "node:tls";
import { parseRegistry } from "../actions/trust.js";

/**
 * The certificates the server presents, leaf first, as node saw them in the handshake; no
 * verification here, that is diagnose's work. Connection failures are one-line Errors that say
 * what to check.
 */
export function fetchChain(
  target: string,
  o: { connectHost?: string; timeoutMs?: number } = {},
): Promise<Buffer[]> {
  const { host, port } = parseRegistry(target);
  const timeoutMs = o.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: o.connectHost ?? host,
      port,
      // Go sends SNI only for names, never for an IP address (RFC 6066 3)
      servername: isIP(host) ? undefined : host,
      rejectUnauthorized: false,
    });
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })),
    );
    socket.once("secureConnect", () => {
      const ders: Buffer[] = [];
      const seen = new Set<object>();
      for (let c = socket.getPeerCertificate(true); c?.raw && !seen.has(c); c = c.issuerCertificate) {
        seen.add(c);
        ders.push(c.raw);
      }
      socket.end();
      if (ders.length === 0) reject(new Error(`${target} completed the TLS handshake without a certificate`));
      else resolve(ders);
    });
    socket.once("error", (e: NodeJS.ErrnoException) => reject(connectionError(e, target, host, timeoutMs)));
  });
}

function connectionError(e: NodeJS.ErrnoException, target: string, host: string, timeoutMs: number): Error {
  switch (e.code) {
    case "ECONNREFUSED":
      return new Error(
        `cannot connect to ${target}: connection refused (is the registry running and publishing that port?)`,
      );
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new Error(`cannot resolve ${host} (add it to DNS, or: certyard-agent trust --hosts ${host}=IP)`);
    case "ETIMEDOUT":
      return new Error(`no answer from ${target} within ${timeoutMs / 1000}s`);
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return new Error(`cannot reach ${target}: ${e.code}`);
  }
  const plain = /wrong version number|packet length too long|http request/i.test(e.message);
  const hint = plain
    ? "; it does not speak TLS there (Docker would say: http: server gave HTTP response to HTTPS client)"
    : "";
  return new Error(`TLS handshake with ${target} failed: ${e.message.split("\n")[0]}${hint}`);
}

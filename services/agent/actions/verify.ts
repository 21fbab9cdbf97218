import { isIP } from "node:net";
import { connect } from "node:tls";
import { fingerprint } from "../../../shared/x509/pem.js";

/** What a TLS endpoint serves: its leaf's fingerprint and serial, or why it could not be read. */
export interface Served {
  fingerprint: string;
  serial: string;
  subject: string;
  /** null when the chain verifies to the root, else the TLS library's reason */
  chainError: string | null;
}

export function parseHostPort(target: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(target.trim());
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`"${target}" is not HOST:PORT`);
  }
  return { host: m[1] ?? m[2] ?? "", port };
}

/**
 * One TLS handshake: what leaf is served, and whether the chain verifies against the root
 * alone, as a Docker client would check it. The leaf is read even when it does not verify, so a
 * failure can say what was served instead.
 */
export function servedLeaf(target: string, rootPem: string, timeoutMs = 5000): Promise<Served> {
  const { host, port } = parseHostPort(target);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      ca: rootPem,
      rejectUnauthorized: false,
      servername: isIP(host) ? undefined : host,
      timeout: timeoutMs,
    });
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate(false);
      const chainError = socket.authorized ? null : String(socket.authorizationError ?? "not trusted");
      socket.end();
      if (!cert?.raw) return reject(new Error(`${target} presented no certificate`));
      const subject = Object.entries(cert.subject ?? {})
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(", ");
      resolve({
        fingerprint: fingerprint(cert.raw),
        serial: cert.serialNumber.toLowerCase(),
        subject,
        chainError,
      });
    });
    socket.once("timeout", () =>
      socket.destroy(new Error(`${target}: no TLS handshake within ${timeoutMs} ms`)),
    );
    socket.once("error", (e) => reject(e));
  });
}

/**
 * Waits, with bounded exponential backoff, until `target` serves the expected leaf. Returns
 * what it last saw when the deadline passes.
 */
export async function waitForServed(
  target: string,
  rootPem: string,
  expectedFingerprint: string,
  deadlineMs = 60_000,
): Promise<{ ok: true } | { ok: false; saw: string }> {
  const end = Date.now() + deadlineMs;
  let delay = 100;
  let saw = "nothing yet";
  for (;;) {
    try {
      const served = await servedLeaf(target, rootPem);
      if (served.fingerprint === expectedFingerprint && served.chainError === null) return { ok: true };
      saw =
        served.fingerprint === expectedFingerprint
          ? `the new certificate, but its chain does not verify to the root (${served.chainError})`
          : `a different certificate (serial ${served.serial}, ${served.subject || "empty subject"})`;
    } catch (e) {
      saw = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() + delay > end) return { ok: false, saw };
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 2000);
  }
}

import { createHash, X509Certificate } from "node:crypto";
import { connect } from "node:tls";
import { connectionProblem, incorrectResponse, tlsProblem } from "../../../../shared/acme/problems.js";
import type { Identifier } from "../../../../shared/acme/types.js";
import { extensionValue } from "../../../../shared/x509/cert.js";
import { ipToBytes } from "../../core/names.js";

const ACME_IDENTIFIER_OID = "1.3.6.1.5.5.7.1.31";

/** RFC 8738 6: the SNI of an IP identifier is its reverse-DNS name. */
function sniFor(id: Identifier): string {
  if (id.type === "dns") return id.value;
  const bytes = ipToBytes(id.value);
  if (bytes.length === 4) return `${[...bytes].reverse().join(".")}.in-addr.arpa`;
  const nibbles = [...bytes.toString("hex")].reverse().join(".");
  return `${nibbles}.ip6.arpa`;
}

/**
 * RFC 8737 3 tls-alpn-01: a TLS handshake with ALPN "acme-tls/1" must present a self-signed
 * certificate whose only SAN is the identifier and whose critical acmeIdentifier extension holds
 * SHA-256 of the key authorization.
 */
export function tlsAlpn01(
  identifier: Identifier,
  address: string,
  port: number,
  keyAuthorization: string,
): Promise<void> {
  const want = createHash("sha256").update(keyAuthorization).digest();
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: address,
      port,
      servername: sniFor(identifier),
      ALPNProtocols: ["acme-tls/1"],
      rejectUnauthorized: false,
      timeout: 5000,
    });
    socket.on("timeout", () => socket.destroy(new Error("timed out")));
    socket.on("error", (e) => reject(connectionProblem(`TLS to ${address}:${port} failed: ${e.message}`)));
    socket.on("secureConnect", () => {
      try {
        if (socket.alpnProtocol !== "acme-tls/1") throw tlsProblem("the server did not negotiate acme-tls/1");
        const raw = socket.getPeerCertificate(false)?.raw;
        if (!raw) throw tlsProblem("no certificate presented");
        const cert = new X509Certificate(raw);
        const san = cert.subjectAltName ?? "";
        const expected =
          identifier.type === "dns" ? `DNS:${identifier.value}` : `IP Address:${identifier.value}`;
        if (san.split(", ").length !== 1 || san.toLowerCase() !== expected.toLowerCase()) {
          throw incorrectResponse(`the certificate's SAN is "${san}", expected only ${expected}`);
        }
        const ext = extensionValue(raw, ACME_IDENTIFIER_OID);
        // extnValue is the DER OCTET STRING (04 20 <digest>) of the acmeIdentifier.
        if (!ext?.equals(Buffer.concat([Buffer.from([0x04, 0x20]), want]))) {
          throw incorrectResponse("the acmeIdentifier extension does not hold the key authorization digest");
        }
        resolve();
      } catch (e) {
        reject(e);
      } finally {
        socket.destroy();
      }
    });
  });
}

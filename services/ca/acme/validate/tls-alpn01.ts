import { createHash } from "node:crypto";
import { connect } from "node:tls";
import type { Identifier } from "../../../../shared/acme/types.js";
import {
  connectionProblem,
  incorrectResponse,
  isAcmeProblem,
  tlsProblem,
} from "../../../../shared/problem.js";
import { extension, extensionValue } from "../../../../shared/x509/cert.js";
import { children, contentOf, type Element, readElement } from "../../../../shared/x509/der.js";
import { ipFromBytes, ipToBytes } from "../../core/names.js";
import { failure } from "./http01.js";

const ACME_IDENTIFIER_OID = "1.3.6.1.5.5.7.1.31";
const SAN_OID = "2.5.29.17";

const sanLabel = (i: Identifier) => `${i.type === "dns" ? "DNS" : "IP"}:${i.value}`;

/**
 * RFC 8737 3 (RFC 8738 6 for IPs): the subjectAltName holds the identifier and no other entry.
 * Read from the DER: node's text form writes IPv6 uncompressed, unlike our canonical identifier.
 */
function sanMismatch(certDer: Uint8Array, id: Identifier): string | null {
  const expected = sanLabel(id);
  const value = extensionValue(certDer, SAN_OID);
  if (!value) return "none";
  const names = children(value, readElement(value, 0));
  if (names.length === 1 && names[0] && describe(value, names[0]).toLowerCase() === expected.toLowerCase())
    return null;
  // what the target presented is not echoed (http01.ts failure()): the log has it
  const found = names.map((n) => describe(value, n)).join(", ");
  return `"${found}"`;
}

function describe(buf: Uint8Array, name: Element): string {
  const content = contentOf(buf, name);
  if (name.tag === 0x82) return `DNS:${Buffer.from(content).toString("latin1")}`;
  // canonical form, as identifiers are stored (ACME normalises IPs on newOrder)
  if (name.tag === 0x87 && (content.length === 4 || content.length === 16))
    return `IP:${ipFromBytes(content)}`;
  return `tag 0x${name.tag.toString(16)}`;
}

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
    let timedOut = false;
    socket.on("timeout", () => {
      timedOut = true;
      socket.destroy(new Error("timed out"));
    });
    socket.on("error", (e) =>
      reject(
        failure(
          connectionProblem(timedOut ? "timed out" : "connection failed"),
          `TLS to ${address}:${port}: ${e.message}`,
        ),
      ),
    );
    socket.on("secureConnect", () => {
      try {
        if (socket.alpnProtocol !== "acme-tls/1") throw tlsProblem("the server did not negotiate acme-tls/1");
        const raw = socket.getPeerCertificate(false)?.raw;
        if (!raw) throw tlsProblem("no certificate presented");
        const sanProblem = sanMismatch(raw, identifier);
        if (sanProblem)
          throw failure(
            incorrectResponse(`the certificate's subjectAltName is not exactly ${sanLabel(identifier)}`),
            `its subjectAltName: ${sanProblem}`,
          );
        const ext = extension(raw, ACME_IDENTIFIER_OID);
        if (!ext) throw incorrectResponse("the certificate has no acmeIdentifier extension");
        if (!ext.critical)
          throw incorrectResponse("the certificate's acmeIdentifier extension is not critical");
        // extnValue is the DER of Authorization ::= OCTET STRING (SIZE (32)): 04 20 <digest>.
        if (!ext.value.equals(Buffer.concat([Buffer.from([0x04, 0x20]), want]))) {
          throw incorrectResponse("the acmeIdentifier extension does not hold the key authorization digest");
        }
        resolve();
      } catch (e) {
        reject(
          isAcmeProblem(e)
            ? e
            : failure(incorrectResponse("the certificate cannot be read"), (e as Error).message),
        );
      } finally {
        socket.destroy();
      }
    });
  });
}

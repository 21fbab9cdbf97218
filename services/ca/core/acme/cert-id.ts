import { parseCertId } from "../../../../shared/acme/cert-id.js";
import { normalizeSerial } from "../types.js";

/**
 * The serial (canonical hex) an RFC 9773 4.1 CertID names, or null when it is not one of this
 * issuer's. Pure.
 */
export function certIdSerial(certId: string, issuerKeyId: Uint8Array): string | null {
  const parts = parseCertId(certId);
  if (!parts?.keyId.equals(Buffer.from(issuerKeyId))) return null;
  try {
    return normalizeSerial(parts.serialHex);
  } catch {
    return null;
  }
}

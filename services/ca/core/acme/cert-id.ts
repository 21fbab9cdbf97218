import { parseCertId } from "../../../../shared/acme/cert-id.js";
import { normalizeSerial } from "../types.js";

/**
 * The serial (canonical hex) an RFC 9773 4.1 CertID names, or null when it is not one of these
 * issuers' (the current intermediate and those a rotation retired). Pure.
 */
export function certIdSerial(certId: string, issuerKeyIds: readonly Uint8Array[]): string | null {
  const parts = parseCertId(certId);
  if (!parts || !issuerKeyIds.some((k) => parts.keyId.equals(Buffer.from(k)))) return null;
  try {
    return normalizeSerial(parts.serialHex);
  } catch {
    return null;
  }
}

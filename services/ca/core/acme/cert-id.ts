import { normalizeSerial } from "../types.js";

/**
 * RFC 9773 4.1: CertID = base64url(AKI keyIdentifier) "." base64url(serial DER content).
 * Returns the serial in canonical hex, or null when it is not one of this issuer's. Pure.
 */
export function certIdSerial(certId: string, issuerKeyId: Uint8Array): string | null {
  const [aki, serial, extra] = certId.split(".");
  if (!aki || !serial || extra !== undefined) return null;
  if (!Buffer.from(aki, "base64url").equals(Buffer.from(issuerKeyId))) return null;
  const hex = Buffer.from(serial, "base64url").toString("hex");
  try {
    return normalizeSerial(hex);
  } catch {
    return null;
  }
}

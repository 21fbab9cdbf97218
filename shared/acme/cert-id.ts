import { extensionValue, serialOf } from "../x509/cert.js";
import { children, contentOf, readElement } from "../x509/der.js";

const OID_AUTHORITY_KEY_ID = "2.5.29.35";

/**
 * RFC 9773 4.1: a certificate's ARI identifier, base64url(AKI keyIdentifier) "."
 * base64url(the serial number's DER INTEGER content octets: minimal, with a 00 before a set top
 * bit). Built here only, for the server that answers renewalInfo and every client that asks.
 */
export function certIdFrom(akiKeyId: Uint8Array, serialHex: string): string {
  return `${Buffer.from(akiKeyId).toString("base64url")}.${serialContent(serialHex).toString("base64url")}`;
}

/** The CertID of a DER certificate. */
export function certIdOf(certDer: Uint8Array): string {
  const keyId = authorityKeyId(certDer);
  if (!keyId) throw new Error("the certificate has no authority key identifier");
  return certIdFrom(keyId, serialOf(certDer));
}

/** A CertID's two parts, or null when it is not of that form. */
export function parseCertId(certId: string): { keyId: Buffer; serialHex: string } | null {
  const [aki, serial, extra] = certId.split(".");
  if (!aki || !serial || extra !== undefined) return null;
  return {
    keyId: Buffer.from(aki, "base64url"),
    serialHex: Buffer.from(serial, "base64url").toString("hex"),
  };
}

/** RFC 5280 4.2.1.1: AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, ... } */
function authorityKeyId(certDer: Uint8Array): Buffer | null {
  const value = extensionValue(certDer, OID_AUTHORITY_KEY_ID);
  if (!value) return null;
  const keyId = children(value, readElement(value, 0)).find((el) => el.tag === 0x80);
  return keyId ? Buffer.from(contentOf(value, keyId)) : null;
}

/** The DER content octets of a positive INTEGER given in hex. */
export function serialContent(hex: string): Buffer {
  let h = hex.toLowerCase().replace(/[^0-9a-f]/g, "");
  if (h.length % 2) h = `0${h}`;
  while (h.length > 2 && h.startsWith("00") && Number.parseInt(h.slice(2, 4), 16) < 0x80) h = h.slice(2);
  if (Number.parseInt(h.slice(0, 2), 16) >= 0x80) h = `00${h}`;
  return Buffer.from(h, "hex");
}

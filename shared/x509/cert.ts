import { bytesOf, children, contentOf, decodeOid, readElement, Tag } from "./der.js";

/**
 * Reads fields of a DER certificate (RFC 5280 4.1) without a full parse. Used on certificates
 * this project issued or received over TLS, after their signature has been checked.
 */
function tbsFields(certDer: Uint8Array) {
  const cert = readElement(certDer, 0);
  const [tbs] = children(certDer, cert);
  if (!tbs || tbs.tag !== Tag.SEQUENCE) throw new Error("not a certificate");
  return children(certDer, tbs);
}

/** The DER of the certificate's SubjectPublicKeyInfo. */
export function spkiOf(certDer: Uint8Array): Buffer {
  const spki = tbsFields(certDer)[6];
  if (!spki) throw new Error("certificate without a public key");
  return Buffer.from(bytesOf(certDer, spki));
}

/** The extension with this OID (RFC 5280 4.1: critical defaults to FALSE), or null. */
export function extension(certDer: Uint8Array, oid: string): { critical: boolean; value: Buffer } | null {
  const fields = tbsFields(certDer);
  const exts = fields.find((f) => f.tag === 0xa3);
  if (!exts) return null;
  const [list] = children(certDer, exts);
  if (!list) return null;
  for (const ext of children(certDer, list)) {
    const parts = children(certDer, ext);
    const [id] = parts;
    const value = parts[parts.length - 1];
    if (id && value && decodeOid(contentOf(certDer, id)) === oid) {
      const flag = parts.length === 3 ? parts[1] : undefined;
      const critical = flag?.tag === Tag.BOOLEAN && (contentOf(certDer, flag)[0] ?? 0) !== 0;
      return { critical, value: Buffer.from(contentOf(certDer, value)) };
    }
  }
  return null;
}

/** The extnValue contents of the extension with this OID, or null. */
export function extensionValue(certDer: Uint8Array, oid: string): Buffer | null {
  return extension(certDer, oid)?.value ?? null;
}

/** Hex of the serial number's content bytes, lowercase, without a sign-padding zero. */
export function serialOf(certDer: Uint8Array): string {
  const serial = tbsFields(certDer)[1];
  if (!serial || serial.tag !== Tag.INTEGER) throw new Error("certificate without a serial");
  const hex = Buffer.from(contentOf(certDer, serial)).toString("hex");
  return hex.startsWith("00") && hex.length > 2 ? hex.slice(2) : hex;
}

import { loadX509 } from "../../../../shared/x509/peculiar.js";

/** The DER content octets of a positive INTEGER from its hex: minimal, with a 00 when the top bit is set. */
export function serialDerBytes(hex: string): Buffer {
  let h = hex.toLowerCase().replace(/[^0-9a-f]/g, "");
  if (h.length % 2) h = `0${h}`;
  while (h.length > 2 && h.startsWith("00") && Number.parseInt(h.slice(2, 4), 16) < 0x80) h = h.slice(2);
  if (Number.parseInt(h.slice(0, 2), 16) >= 0x80) h = `00${h}`;
  return Buffer.from(h, "hex");
}

/**
 * RFC 9773 4.1: the certificate's ARI identifier, base64url(AKI keyIdentifier) "."
 * base64url(serial number DER content octets).
 */
export function certIdFrom(akiKeyIdHex: string, serialHex: string): string {
  const aki = Buffer.from(akiKeyIdHex, "hex").toString("base64url");
  return `${aki}.${serialDerBytes(serialHex).toString("base64url")}`;
}

/** The certID of the leaf (first certificate) of a PEM chain. */
export async function certIdOf(certPem: string): Promise<string> {
  const x509 = await loadX509();
  const leaf = new x509.X509Certificate(certPem);
  const aki = leaf.getExtension(x509.AuthorityKeyIdentifierExtension);
  if (!aki?.keyId) throw new Error("the certificate has no authority key identifier");
  return certIdFrom(aki.keyId, leaf.serialNumber);
}

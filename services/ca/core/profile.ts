import { hash } from "node:crypto";
import {
  BOOLEAN_TRUE,
  bitString,
  explicit,
  headerSize,
  octets,
  oid,
  putBytes,
  putHeader,
  putTime,
  seq,
  set,
  smallInteger,
  Tag,
  timeSize,
  tlv,
} from "../../../shared/x509/der.js";

/**
 * The issued server certificate's profile (RFC 5280), built as DER. Everything that is the same
 * for every leaf of one issuer is encoded once in a LeafTemplate; per leaf only the serial,
 * validity, subject, key, SKI and SANs are encoded. Pure: no keys, no I/O.
 */

export type IssuerKeyKind = "ec-p256" | "ec-p384" | "rsa";

export interface IssuerInfo {
  /** DER of the issuing certificate's subject Name */
  subject: Buffer;
  /** the issuing certificate's subjectKeyIdentifier */
  keyIdentifier: Buffer;
  keyKind: IssuerKeyKind;
  /** where relying parties fetch the CRL, or null for none */
  crlUrl: string | null;
}

export interface LeafTemplate {
  hash: "sha256" | "sha384";
  signatureAlgorithm: Buffer;
  issuer: Buffer;
  /** basicConstraints, extKeyUsage, authorityKeyIdentifier and CRL distribution point, encoded */
  fixedExtensions: Buffer;
}

export interface LeafFields {
  /** DER INTEGER of the serial */
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** the subject's CN when it is one of the SANs, else null for an empty subject */
  commonName: string | null;
  spki: Buffer;
  publicKeyBits: Buffer;
  rsaKey: boolean;
  /** DER of GeneralNames */
  generalNames: Buffer;
}

const OID = {
  ecdsaSha256: "1.2.840.10045.4.3.2",
  ecdsaSha384: "1.2.840.10045.4.3.3",
  rsaSha256: "1.2.840.113549.1.1.11",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  subjectAltName: "2.5.29.17",
  crlDistributionPoints: "2.5.29.31",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  commonName: "2.5.4.3",
};

const NULL = Buffer.from([Tag.NULL, 0]);
const VERSION_3 = explicit(0, smallInteger(2));

const encodedOids = new Map<string, Buffer>();
/** OIDs are encoded once: the per-leaf extensions use the same few every time. */
function cachedOid(id: string): Buffer {
  let der = encodedOids.get(id);
  if (!der) {
    der = oid(id);
    encodedOids.set(id, der);
  }
  return der;
}

export function extension(id: string, critical: boolean, value: Uint8Array): Buffer {
  const name = cachedOid(id);
  return critical ? seq(name, BOOLEAN_TRUE, octets(value)) : seq(name, octets(value));
}

export function signatureAlgorithmFor(kind: IssuerKeyKind): { hash: "sha256" | "sha384"; der: Buffer } {
  if (kind === "ec-p384") return { hash: "sha384", der: seq(oid(OID.ecdsaSha384)) };
  if (kind === "ec-p256") return { hash: "sha256", der: seq(oid(OID.ecdsaSha256)) };
  // RFC 4055 2.1: the parameters of sha256WithRSAEncryption are NULL.
  return { hash: "sha256", der: seq(oid(OID.rsaSha256), NULL) };
}

export function leafTemplate(issuer: IssuerInfo): LeafTemplate {
  const { hash, der } = signatureAlgorithmFor(issuer.keyKind);
  const exts = [
    extension(OID.basicConstraints, true, seq()),
    extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth), oid(OID.clientAuth))),
    extension(OID.authorityKeyIdentifier, false, seq(tlv(0x80, issuer.keyIdentifier))),
  ];
  if (issuer.crlUrl) {
    // DistributionPoint { distributionPoint [0] { fullName [0] { uniformResourceIdentifier [6] } } }
    const uri = tlv(0x86, Buffer.from(issuer.crlUrl, "ascii"));
    exts.push(extension(OID.crlDistributionPoints, false, seq(seq(tlv(0xa0, tlv(0xa0, uri))))));
  }
  return { hash, signatureAlgorithm: der, issuer: issuer.subject, fixedExtensions: Buffer.concat(exts) };
}

// digitalSignature (bit 0); with keyEncipherment (bit 2) for RSA keys, which TLS 1.2 RSA key
// exchange uses.
const KEY_USAGE_EC = extension(OID.keyUsage, true, bitString(Buffer.from([0x80]), 7));
const KEY_USAGE_RSA = extension(OID.keyUsage, true, bitString(Buffer.from([0xa0]), 5));

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(publicKeyBits: Uint8Array): Buffer {
  return hash("sha1", publicKeyBits, "buffer");
}

export function subjectName(commonName: string | null): Buffer {
  if (commonName === null) return seq();
  return seq(set(seq(cachedOid(OID.commonName), tlv(Tag.UTF8_STRING, Buffer.from(commonName, "utf8")))));
}

const SKI_OID = cachedOid(OID.subjectKeyIdentifier);
const SAN_OID = cachedOid(OID.subjectAltName);
const CN_OID = cachedOid(OID.commonName);
/** SEQUENCE { subjectKeyIdentifier, OCTET STRING { OCTET STRING { 20 bytes of SHA-1 } } } */
const SKI_EXTENSION_SIZE = 2 + SKI_OID.length + 2 + 2 + 20;

/** `size` content bytes and their header. */
const whole = (size: number) => headerSize(size) + size;

/**
 * The TBSCertificate: the template's fixed parts and the leaf's fields, sized first and written
 * into one buffer (this runs for every issuance; a buffer per element and a copy per nesting
 * level were a quarter of a signing's garbage). The same DER as
 * seq(VERSION_3, serial, signatureAlgorithm, issuer, seq(time, time), subjectName(cn), spki,
 * explicit(3, seq(fixed extensions, keyUsage, extension(SKI), extension(SAN)))).
 */
export function buildTbs(t: LeafTemplate, f: LeafFields): Buffer {
  // RFC 5280 4.2.1.6: with an empty subject the subjectAltName extension must be critical.
  const sanCritical = f.commonName === null;
  const sanValue = whole(f.generalNames.length);
  const san = SAN_OID.length + (sanCritical ? BOOLEAN_TRUE.length : 0) + sanValue;
  const keyUsage = f.rsaKey ? KEY_USAGE_RSA : KEY_USAGE_EC;
  const extensions = t.fixedExtensions.length + keyUsage.length + SKI_EXTENSION_SIZE + whole(san);
  const cnBytes = f.commonName === null ? 0 : Buffer.byteLength(f.commonName, "utf8");
  const atv = CN_OID.length + whole(cnBytes);
  const subject = f.commonName === null ? 0 : whole(whole(atv));
  const validity = timeSize(f.notBefore) + timeSize(f.notAfter);
  const body =
    VERSION_3.length +
    f.serial.length +
    t.signatureAlgorithm.length +
    t.issuer.length +
    whole(validity) +
    whole(subject) +
    f.spki.length +
    whole(whole(extensions));

  const out = Buffer.allocUnsafe(whole(body));
  let at = putHeader(out, 0, Tag.SEQUENCE, body);
  at = putBytes(out, at, VERSION_3);
  at = putBytes(out, at, f.serial);
  at = putBytes(out, at, t.signatureAlgorithm);
  at = putBytes(out, at, t.issuer);
  at = putHeader(out, at, Tag.SEQUENCE, validity);
  at = putTime(out, at, f.notBefore);
  at = putTime(out, at, f.notAfter);
  at = putHeader(out, at, Tag.SEQUENCE, subject);
  if (f.commonName !== null) {
    at = putHeader(out, at, Tag.SET, whole(atv));
    at = putHeader(out, at, Tag.SEQUENCE, atv);
    at = putBytes(out, at, CN_OID);
    at = putHeader(out, at, Tag.UTF8_STRING, cnBytes);
    at += out.write(f.commonName, at, "utf8");
  }
  at = putBytes(out, at, f.spki);
  at = putHeader(out, at, 0xa3, whole(extensions));
  at = putHeader(out, at, Tag.SEQUENCE, extensions);
  at = putBytes(out, at, t.fixedExtensions);
  at = putBytes(out, at, keyUsage);
  at = putHeader(out, at, Tag.SEQUENCE, SKI_EXTENSION_SIZE - 2);
  at = putBytes(out, at, SKI_OID);
  at = putHeader(out, at, Tag.OCTET_STRING, 22);
  at = putHeader(out, at, Tag.OCTET_STRING, 20);
  at = putBytes(out, at, keyIdentifier(f.publicKeyBits));
  at = putHeader(out, at, Tag.SEQUENCE, san);
  at = putBytes(out, at, SAN_OID);
  if (sanCritical) at = putBytes(out, at, BOOLEAN_TRUE);
  at = putHeader(out, at, Tag.OCTET_STRING, f.generalNames.length);
  at = putBytes(out, at, f.generalNames);
  // every byte of the unzeroed buffer is written, or this is a bug
  if (at !== out.length) throw new Error(`buildTbs wrote ${at} of ${out.length} bytes`);
  return out;
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, BIT STRING signature }, in one buffer. */
export function assembleCertificate(t: LeafTemplate, tbs: Buffer, signature: Buffer): Buffer {
  const bits = 1 + signature.length;
  const body = tbs.length + t.signatureAlgorithm.length + whole(bits);
  const out = Buffer.allocUnsafe(whole(body));
  let at = putHeader(out, 0, Tag.SEQUENCE, body);
  at = putBytes(out, at, tbs);
  at = putBytes(out, at, t.signatureAlgorithm);
  at = putHeader(out, at, Tag.BIT_STRING, bits);
  out[at++] = 0; // no unused bits
  at = putBytes(out, at, signature);
  if (at !== out.length) throw new Error(`assembleCertificate wrote ${at} of ${out.length} bytes`);
  return out;
}

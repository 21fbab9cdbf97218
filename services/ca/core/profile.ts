import { createHash } from "node:crypto";
import {
  BOOLEAN_TRUE,
  bitString,
  explicit,
  octets,
  oid,
  seq,
  set,
  smallInteger,
  Tag,
  time,
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
  return createHash("sha1").update(publicKeyBits).digest();
}

export function subjectName(commonName: string | null): Buffer {
  if (commonName === null) return seq();
  return seq(set(seq(cachedOid(OID.commonName), tlv(Tag.UTF8_STRING, Buffer.from(commonName, "utf8")))));
}

export function buildTbs(t: LeafTemplate, f: LeafFields): Buffer {
  // RFC 5280 4.2.1.6: with an empty subject the subjectAltName extension must be critical.
  const san = extension(OID.subjectAltName, f.commonName === null, f.generalNames);
  const extensions = explicit(
    3,
    seq(
      t.fixedExtensions,
      f.rsaKey ? KEY_USAGE_RSA : KEY_USAGE_EC,
      extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(f.publicKeyBits))),
      san,
    ),
  );
  return seq(
    VERSION_3,
    f.serial,
    t.signatureAlgorithm,
    t.issuer,
    seq(time(f.notBefore), time(f.notAfter)),
    subjectName(f.commonName),
    f.spki,
    extensions,
  );
}

export function assembleCertificate(t: LeafTemplate, tbs: Buffer, signature: Buffer): Buffer {
  return seq(tbs, t.signatureAlgorithm, bitString(signature));
}

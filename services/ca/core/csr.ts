import { verify } from "node:crypto";
import { dnsNameProblem, normalizeDns } from "../../../shared/dns-name.js";
import { badCSR, badName, badPublicKey, badSignature, rejectedIdentifier } from "../../../shared/problem.js";
import {
  bytesOf,
  children,
  contentOf,
  DerError,
  decodeOid,
  type Element,
  expectTag,
  headerSize,
  isOid,
  putBytes,
  putHeader,
  readElement,
  seq,
  Tag,
  tlv,
} from "../../../shared/x509/der.js";
import { canonicalIp, ipFamily, ipFromBytes, ipToBytes } from "./names.js";
import { checkPublicKey, INVALID_KEY, type KeyKind, spkiKey } from "./public-key.js";

export { certifiedKeyInfo, type KeyKind, publicKeyInfo } from "./public-key.js";

/**
 * PKCS#10 (RFC 2986) requests, parsed just far enough to issue from them, and verified with
 * node's crypto. Pure: bytes in, a parsed request or a Problem out.
 */

const OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
const OID_SAN = "2.5.29.17";
const OID_CN = "2.5.4.3";

/** CSR signature algorithms we accept, by OID, with the hash node's crypto.verify needs. */
const SIGNATURE_ALGORITHMS: readonly { oid: string; hash: string; key: "ec" | "rsa" }[] = [
  { oid: "1.2.840.10045.4.3.2", hash: "sha256", key: "ec" },
  { oid: "1.2.840.10045.4.3.3", hash: "sha384", key: "ec" },
  { oid: "1.2.840.10045.4.3.4", hash: "sha512", key: "ec" },
  { oid: "1.2.840.113549.1.1.11", hash: "sha256", key: "rsa" },
  { oid: "1.2.840.113549.1.1.12", hash: "sha384", key: "rsa" },
  { oid: "1.2.840.113549.1.1.13", hash: "sha512", key: "rsa" },
];

export interface ParsedCsr {
  /** DER of the SubjectPublicKeyInfo, copied into the certificate unchanged */
  spki: Buffer;
  /** contents of the subjectPublicKey BIT STRING (without the unused-bits byte), for the SKI */
  publicKeyBits: Buffer;
  keyKind: KeyKind;
  /** the subject's commonName, when it has one */
  commonName: string | null;
  dns: string[];
  ips: string[];
  /** DER of the requested GeneralNames, copied into the certificate's subjectAltName unchanged */
  generalNames: Buffer;
}

export interface ParseCsrOptions {
  /**
   * ACME finalize ONLY, never /v1/sign. Older ACME clients (lego 4.9) put an IP identifier into
   * the CSR as a dNSName "127.0.0.1". RFC 8738 says an IP is certified as an iPAddress SAN, so in
   * this mode a dNSName that is an IP literal is read as that IP address, and `generalNames` is
   * re-encoded from the names found (dNSName, then iPAddress) instead of copied, so that the
   * certificate never carries an IP in a dNSName. The caller must still require the CSR's names
   * to be exactly the order's validated identifiers; the signature is verified as always.
   */
  ipLiteralDnsNamesAsIps?: boolean;
}

export function parseCsr(der: Uint8Array, opts: ParseCsrOptions = {}): ParsedCsr {
  const { signed, rest } = derErrors(() => parseSigned(der, opts));
  const ok = keyErrors(() => verify(signed.hash, signed.data, signed.key, signed.signature));
  if (!ok) throw badSignature(SIGNATURE_FAILS);
  return derErrors(rest);
}

/**
 * parseCsr with the signature verified on libuv's threadpool (node:crypto's verify with a
 * callback): the event loop serves other requests meanwhile, so one process keeps both cores
 * busy on the sign path. The same checks in the same order, the same result or Problem.
 */
export async function parseCsrAsync(der: Uint8Array, opts: ParseCsrOptions = {}): Promise<ParsedCsr> {
  const { signed, rest } = derErrors(() => parseSigned(der, opts));
  const ok = await new Promise<boolean>((resolve, reject) =>
    keyErrors(() =>
      verify(signed.hash, signed.data, signed.key, signed.signature, (err, result) =>
        err ? reject(err) : resolve(result),
      ),
    ),
  );
  if (!ok) throw badSignature(SIGNATURE_FAILS);
  return derErrors(rest);
}

const SIGNATURE_FAILS = "the CSR's signature does not verify against its public key";

/**
 * crypto.verify decodes the SubjectPublicKeyInfo before it verifies, on the calling thread
 * (with a callback too), and throws when OpenSSL refuses the key: an EC point off its curve, a
 * modulus it cannot read. checkPublicKey has accepted its type and size already.
 */
function keyErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch {
    throw badPublicKey(INVALID_KEY);
  }
}

function derErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof DerError) throw badCSR(`the CSR is not valid DER: ${e.message}`);
    throw e;
  }
}

/**
 * The CSR up to its signature check: what is signed, by which key and hash; `rest` reads the
 * names once the signature has verified (a CSR that fails both is refused for its signature).
 */
function parseSigned(der: Uint8Array, opts: ParseCsrOptions) {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const outer = expectTag(readElement(buf, 0), Tag.SEQUENCE, "a CertificationRequest SEQUENCE");
  if (outer.end !== buf.length) throw badCSR("trailing bytes after the CSR");
  const [cri, sigAlg, sig, more] = children(buf, outer);
  if (more) throw badCSR("the CSR has extra fields");
  expectTag(cri, Tag.SEQUENCE, "certificationRequestInfo");
  expectTag(sigAlg, Tag.SEQUENCE, "signatureAlgorithm");
  expectTag(sig, Tag.BIT_STRING, "signature");
  const info = children(buf, cri as Element);
  const [version, subject, spkiEl, attrs] = info;
  const v = contentOf(buf, expectTag(version, Tag.INTEGER, "version"));
  if (v.length !== 1 || v[0] !== 0) throw badCSR("only PKCS#10 version 1 (0) requests are accepted");
  expectTag(subject, Tag.SEQUENCE, "subject Name");
  expectTag(spkiEl, Tag.SEQUENCE, "subjectPKInfo");
  const spki = Buffer.from(bytesOf(buf, spkiEl as Element));
  const { keyKind, publicKeyBits } = checkPublicKey(buf, spkiEl as Element);

  const algChildren = children(buf, sigAlg as Element);
  const algEl = expectTag(algChildren[0], Tag.OID, "signature algorithm OID");
  const alg = SIGNATURE_ALGORITHMS.find((a) => isOid(buf, algEl, a.oid));
  if (!alg) {
    const algOid = decodeOid(contentOf(buf, algEl));
    throw badSignature(`CSR signature algorithm ${algOid} is not accepted (use SHA-256 or better)`);
  }
  if ((alg.key === "rsa") !== (keyKind === "rsa"))
    throw badSignature("the CSR's signature algorithm does not fit its key");
  const sigBytes = contentOf(buf, sig as Element);
  if (sigBytes[0] !== 0) throw badSignature("the CSR's signature has unused bits");
  const signed = {
    hash: alg.hash,
    data: bytesOf(buf, cri as Element),
    key: { ...spkiKey(spki), dsaEncoding: "der" as const },
    signature: sigBytes.subarray(1),
  };
  const rest = (): ParsedCsr => {
    const names = attrs
      ? requestedNames(buf, attrs, opts)
      : { dns: [], ips: [], generalNames: Buffer.alloc(0) };
    return {
      spki,
      publicKeyBits,
      keyKind,
      commonName: commonName(buf, subject as Element),
      ...names,
    };
  };
  return { signed, rest };
}

/**
 * ACME finalize ONLY, never /v1/sign. RFC 8555 7.4: "dns identifiers MUST appear either in the
 * commonName portion of the requested subject name or in an extensionRequest attribute
 * requesting a subjectAltName extension, or both". A commonName that is a DNS name or an IP
 * address is therefore one of the requested names: it is added to the names, and to the
 * subjectAltName the certificate will carry (re-encoded, DNS names then IP addresses), when the
 * CSR's subjectAltName lacks it. The caller must still require the names to be exactly the
 * order's identifiers. Any other commonName (not a name) is left as it is; the profile drops it.
 */
export function withCommonNameAsSan(csr: ParsedCsr): ParsedCsr {
  const cn = csr.commonName;
  if (cn === null) return csr;
  let { dns, ips } = csr;
  if (ipFamily(cn) !== null) {
    const ip = canonicalIp(cn);
    if (ips.includes(ip)) return csr;
    ips = [...ips, ip];
  } else {
    const name = normalizeDns(cn);
    if (dnsNameProblem(name) !== null || dns.some((d) => normalizeDns(d) === name)) return csr;
    dns = [...dns, name];
  }
  return { ...csr, dns, ips, generalNames: encodeGeneralNames(dns, ips) };
}

/** GeneralNames (RFC 5280 4.2.1.6) of these DNS names (as they are) and IP addresses, in order. */
export function encodeGeneralNames(dns: readonly string[], ips: readonly string[]): Buffer {
  return seq(
    ...dns.map((n) => tlv(0x82, Buffer.from(n, "latin1"))),
    ...ips.map((ip) => tlv(0x87, ipToBytes(ip))),
  );
}

function commonName(buf: Buffer, subject: Element): string | null {
  let cn: string | null = null;
  for (const rdn of children(buf, subject)) {
    for (const atv of children(buf, expectTag(rdn, Tag.SET, "RelativeDistinguishedName"))) {
      const [type, value] = children(buf, expectTag(atv, Tag.SEQUENCE, "AttributeTypeAndValue"));
      if (!isOid(buf, expectTag(type, Tag.OID, "attribute type"), OID_CN) || !value) continue;
      if (
        value.tag !== Tag.UTF8_STRING &&
        value.tag !== Tag.PRINTABLE_STRING &&
        value.tag !== Tag.IA5_STRING
      ) {
        throw badCSR("the subject commonName must be a UTF8String, PrintableString or IA5String");
      }
      if (cn !== null) throw badCSR("the subject has more than one commonName");
      cn = buf.toString("utf8", value.contentStart, value.end);
    }
  }
  return cn;
}

/** RFC 5280 sets no limit; a certificate for more names than this is a mistake or an attack. */
export const MAX_NAMES = 100;

/**
 * The DNS names and IP addresses of the extensionRequest's subjectAltName (RFC 2985 5.4.2), as
 * the certificate will carry them: DNS names in lower case (RFC 4343: DNS compares without case,
 * and a relying party's exact string compare should not depend on the requester's spelling),
 * each name once, in the CSR's order; `generalNames` is encoded from them.
 */
function requestedNames(
  buf: Buffer,
  attrs: Element,
  opts: ParseCsrOptions,
): { dns: string[]; ips: string[]; generalNames: Buffer } {
  if (attrs.tag !== 0xa0) throw badCSR("expected the CSR's attributes [0]");
  const dns: string[] = [];
  const ips: string[] = [];
  /** the SAN entries in the CSR's order, each once: true for dns[i], false for ips[i] */
  const isDns: boolean[] = [];
  let seenSan = false;
  for (const attr of children(buf, attrs)) {
    const [type, values] = children(buf, expectTag(attr, Tag.SEQUENCE, "Attribute"));
    if (!isOid(buf, expectTag(type, Tag.OID, "attribute type"), OID_EXTENSION_REQUEST)) continue;
    for (const exts of children(buf, expectTag(values, Tag.SET, "attribute values"))) {
      for (const ext of children(buf, expectTag(exts, Tag.SEQUENCE, "Extensions"))) {
        const parts = children(buf, expectTag(ext, Tag.SEQUENCE, "Extension"));
        if (!isOid(buf, expectTag(parts[0], Tag.OID, "extension OID"), OID_SAN)) continue;
        if (seenSan) throw badCSR("the CSR has more than one subjectAltName extension");
        seenSan = true;
        const value = expectTag(parts[parts.length - 1], Tag.OCTET_STRING, "extnValue");
        const inner = readElement(buf, value.contentStart, value.end);
        if (inner.end !== value.end) throw badCSR("trailing bytes in subjectAltName");
        const generalNames = children(buf, expectTag(inner, Tag.SEQUENCE, "GeneralNames"));
        if (generalNames.length > MAX_NAMES) {
          throw badCSR(
            `a certificate has at most ${MAX_NAMES} names; the CSR asks for ${generalNames.length}`,
          );
        }
        const addIp = (ip: string) => {
          if (ips.includes(ip)) return;
          ips.push(ip);
          isDns.push(false);
        };
        for (const gn of generalNames) {
          if (gn.tag === 0x82) {
            const name = buf.toString("latin1", gn.contentStart, gn.end);
            if (opts.ipLiteralDnsNamesAsIps && ipFamily(name) !== null) {
              addIp(canonicalIp(name));
              continue;
            }
            const problem = dnsNameProblem(name);
            if (problem) throw name.startsWith("*.") ? rejectedIdentifier(problem) : badName(problem);
            const lower = name.toLowerCase();
            if (dns.includes(lower)) continue;
            dns.push(lower);
            isDns.push(true);
          } else if (gn.tag === 0x87) {
            const content = contentOf(buf, gn);
            if (content.length !== 4 && content.length !== 16)
              throw badCSR("an IP address SAN has 4 or 16 octets");
            addIp(ipFromBytes(content));
          } else {
            throw badCSR("only DNS names and IP addresses are accepted in subjectAltName");
          }
        }
      }
    }
  }
  return { dns, ips, generalNames: seenSan ? generalNamesOf(dns, ips, isDns) : Buffer.alloc(0) };
}

/**
 * GeneralNames of the names in `isDns`'s order (dNSName [2] as latin1, iPAddress [7] as its
 * octets), sized first and written into one buffer.
 */
function generalNamesOf(dns: readonly string[], ips: readonly string[], isDns: readonly boolean[]): Buffer {
  const ipBytes = ips.map(ipToBytes);
  let size = 0;
  for (const name of dns) size += headerSize(name.length) + name.length;
  for (const ip of ipBytes) size += headerSize(ip.length) + ip.length;
  const out = Buffer.allocUnsafe(headerSize(size) + size);
  let at = putHeader(out, 0, Tag.SEQUENCE, size);
  let d = 0;
  let i = 0;
  for (const entryIsDns of isDns) {
    if (entryIsDns) {
      const name = dns[d++] ?? "";
      at = putHeader(out, at, 0x82, name.length);
      at += out.write(name, at, "latin1");
    } else {
      const ip = ipBytes[i++] ?? Buffer.alloc(0);
      at = putHeader(out, at, 0x87, ip.length);
      at = putBytes(out, at, ip);
    }
  }
  if (at !== out.length) throw new Error(`generalNamesOf wrote ${at} of ${out.length} bytes`);
  return out;
}

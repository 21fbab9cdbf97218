import { createPublicKey, type KeyObject } from "node:crypto";
import { badPublicKey } from "../../../shared/problem.js";
import {
  children,
  contentOf,
  DerError,
  decodeOid,
  type Element,
  expectTag,
  isOid,
  readElement,
  Tag,
} from "../../../shared/x509/der.js";

/**
 * The public keys this CA certifies (EC P-256 and P-384, RSA 2048-8192), checked from their
 * SubjectPublicKeyInfo DER, in a CSR or in a certificate being renewed.
 */

const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const OID_RSA = "1.2.840.113549.1.1.1";

export type KeyKind = "ec-p256" | "ec-p384" | "rsa";

/** The accepted-key checks for a SubjectPublicKeyInfo found outside a CSR (a certificate being renewed). */
export function publicKeyInfo(spki: Buffer): {
  keyKind: KeyKind;
  publicKey: KeyObject;
  publicKeyBits: Buffer;
} {
  const { keyKind, publicKeyBits } = certifiedKeyInfo(spki);
  return { keyKind, publicKey: importKey(() => createPublicKey(spkiKey(spki))), publicKeyBits };
}

/**
 * The kind and bits of a key this CA certified before (a renewal keeping its key): the checks of
 * publicKeyInfo without importing the key, whose point was checked at that issuance.
 */
export function certifiedKeyInfo(spki: Buffer): { keyKind: KeyKind; publicKeyBits: Buffer } {
  try {
    return checkPublicKey(spki, readElement(spki, 0));
  } catch (e) {
    if (e instanceof DerError) throw badPublicKey(`the public key is not valid DER: ${e.message}`);
    throw e;
  }
}

/**
 * A checked SubjectPublicKeyInfo as node:crypto takes a key: OpenSSL decodes it where it is
 * used (in crypto.verify's job, for a CSR), and refuses an EC point that is not on its curve.
 */
export function spkiKey(spki: Buffer) {
  return { key: spki, format: "der", type: "spki" } as const;
}

/** What OpenSSL's decoder says of a key that passed checkPublicKey: its point or modulus is not valid. */
export const INVALID_KEY = "the public key is not a valid point or modulus";

const CURVES: readonly { oid: string; kind: KeyKind }[] = [
  { oid: "1.2.840.10045.3.1.7", kind: "ec-p256" },
  { oid: "1.3.132.0.34", kind: "ec-p384" },
];

/**
 * Checks the key type, curve and size from the parsed fields; the point or modulus itself is
 * checked where the key is imported (spkiKey). The key is not imported here: OpenSSL's DER
 * decoder run inside crypto.verify's job costs the event loop less than a KeyObject built
 * from JWK (issue 16).
 */
export function checkPublicKey(buf: Buffer, spkiEl: Element): { keyKind: KeyKind; publicKeyBits: Buffer } {
  const [alg, bits] = children(buf, spkiEl);
  const algParts = children(buf, expectTag(alg, Tag.SEQUENCE, "key algorithm"));
  const keyOidEl = expectTag(algParts[0], Tag.OID, "key algorithm OID");
  const bitContent = contentOf(buf, expectTag(bits, Tag.BIT_STRING, "subjectPublicKey"));
  if (bitContent[0] !== 0) throw badPublicKey("the public key has unused bits");
  const publicKeyBits = Buffer.from(bitContent.subarray(1));
  if (isOid(buf, keyOidEl, OID_EC_PUBLIC_KEY)) {
    const params = algParts[1];
    const curve = params && CURVES.find((c) => isOid(buf, params, c.oid));
    if (!curve) {
      const curveOid = params?.tag === Tag.OID ? decodeOid(contentOf(buf, params)) : "(not a named curve)";
      throw badPublicKey(`EC curve ${curveOid} is not accepted: use P-256 or P-384`);
    }
    return { keyKind: curve.kind, publicKeyBits };
  }
  if (isOid(buf, keyOidEl, OID_RSA)) {
    const rsa = readElement(publicKeyBits, 0);
    const [n, e] = children(publicKeyBits, expectTag(rsa, Tag.SEQUENCE, "RSAPublicKey"));
    const modulus = stripZeros(contentOf(publicKeyBits, expectTag(n, Tag.INTEGER, "modulus")));
    const exponent = stripZeros(contentOf(publicKeyBits, expectTag(e, Tag.INTEGER, "publicExponent")));
    const bitsLen = modulus.length === 0 ? 0 : (modulus.length - 1) * 8 + (32 - Math.clz32(modulus[0] ?? 0));
    if (bitsLen < 2048) throw badPublicKey(`RSA key of ${bitsLen} bits is too weak: use at least 2048`);
    if (bitsLen > 8192) throw badPublicKey(`RSA key of ${bitsLen} bits is too large: at most 8192`);
    const expValue = BigInt(`0x${exponent.toString("hex") || "0"}`);
    if (expValue < 65537n || expValue % 2n === 0n) {
      throw badPublicKey("RSA public exponent must be odd and at least 65537");
    }
    return { keyKind: "rsa", publicKeyBits };
  }
  const keyOid = decodeOid(contentOf(buf, keyOidEl));
  throw badPublicKey(`public key algorithm ${keyOid} is not accepted: use EC P-256, P-384 or RSA 2048-8192`);
}

function importKey(make: () => KeyObject): KeyObject {
  try {
    return make();
  } catch {
    throw badPublicKey(INVALID_KEY);
  }
}

function stripZeros(bytes: Uint8Array): Buffer {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  return Buffer.from(bytes.subarray(i));
}

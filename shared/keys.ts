import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  webcrypto,
} from "node:crypto";
import { InputError } from "./errors.js";

/** Key types of the contract; the CA's own keys and the agent's use the same names. */
export const KEY_TYPES = ["ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export function parseKeyType(text: string): KeyType {
  const t = KEY_TYPES.find((k) => k === text);
  if (!t) throw new InputError(`unknown key type "${text}": use one of ${KEY_TYPES.join(", ")}`);
  return t;
}

/**
 * A new private key. (On node 20 the key was encoded inside the generation job and imported
 * again, because exporting a key straight out of generateKeyPairSync as a JWK could deadlock
 * under a garbage collection; node 24 does not, and the keys test still runs that loop.)
 */
export function generateKey(type: KeyType): KeyObject {
  if (type === "ec-p256" || type === "ec-p384") {
    return generateKeyPairSync("ec", { namedCurve: type === "ec-p256" ? "P-256" : "P-384" }).privateKey;
  }
  return generateKeyPairSync("rsa", { modulusLength: Number(type.slice(4)), publicExponent: 65537 })
    .privateKey;
}

/** PKCS#8 PEM, encrypted with AES-256-CBC under the passphrase when one is given. */
export function exportPrivateKey(key: KeyObject, passphrase?: string): string {
  if (passphrase === undefined) return key.export({ type: "pkcs8", format: "pem" }).toString();
  return key.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase }).toString();
}

export function loadPrivateKey(pem: string, path: string, passphrase?: string): KeyObject {
  const encrypted = pem.includes("ENCRYPTED PRIVATE KEY");
  if (encrypted && passphrase === undefined) {
    throw new Error(`${path} is encrypted: give --passphrase-file`);
  }
  try {
    return createPrivateKey(encrypted ? { key: pem, passphrase } : { key: pem });
  } catch {
    throw new Error(encrypted ? `wrong passphrase for ${path}` : `cannot read the private key in ${path}`);
  }
}

export type SigningKeyKind = "ec-p256" | "ec-p384" | "rsa";

export function keyKindOf(key: KeyObject): SigningKeyKind {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "rsa") return "rsa";
  if (details.namedCurve === "prime256v1") return "ec-p256";
  if (details.namedCurve === "secp384r1") return "ec-p384";
  throw new Error(`unsupported CA key (${key.asymmetricKeyType} ${details.namedCurve ?? ""})`);
}

/** The WebCrypto algorithm with which @peculiar/x509 signs with a key of this kind. */
export function webAlgorithm(
  kind: SigningKeyKind,
): webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams {
  if (kind === "rsa") return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  return { name: "ECDSA", namedCurve: kind === "ec-p256" ? "P-256" : "P-384" };
}

export function signingAlgorithm(kind: SigningKeyKind): webcrypto.Algorithm | webcrypto.EcdsaParams {
  if (kind === "rsa") return { name: "RSASSA-PKCS1-v1_5" };
  return { name: "ECDSA", hash: kind === "ec-p256" ? "SHA-256" : "SHA-384" } as webcrypto.EcdsaParams;
}

/** A node KeyObject as the WebCrypto key pair @peculiar/x509 works with. */
export async function toWebKeyPair(privateKey: KeyObject): Promise<webcrypto.CryptoKeyPair> {
  const kind = keyKindOf(privateKey);
  const alg = webAlgorithm(kind);
  const subtle = webcrypto.subtle;
  const pkcs8 = privateKey.export({ type: "pkcs8", format: "der" });
  const spki = createPublicKeyDer(privateKey);
  return {
    privateKey: (await subtle.importKey("pkcs8", pkcs8, alg, false, ["sign"])) as webcrypto.CryptoKey,
    publicKey: (await subtle.importKey("spki", spki, alg, true, ["verify"])) as webcrypto.CryptoKey,
  };
}

function createPublicKeyDer(privateKey: KeyObject): Buffer {
  return createPublicKey(privateKey).export({ type: "spki", format: "der" });
}

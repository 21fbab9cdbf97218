import type { KeyObject } from "node:crypto";
import { isIP } from "node:net";
import {
  exportPrivateKey,
  generateKey,
  type KeyType,
  keyKindOf,
  signingAlgorithm,
  toWebKeyPair,
} from "../../shared/keys.js";
import { loadX509 } from "../../shared/x509/peculiar.js";

/** A key made on this host (it never leaves it) and a CSR for the names. */
export async function keyAndCsr(
  keyType: KeyType,
  names: { dns: string[]; ips: string[] },
): Promise<{ keyPem: string; csrPem: string }> {
  const key = generateKey(keyType);
  return { keyPem: exportPrivateKey(key), csrPem: await csrFor(key, names) };
}

export async function csrFor(key: KeyObject, names: { dns: string[]; ips: string[] }): Promise<string> {
  const x509 = await loadX509();
  const keys = await toWebKeyPair(key);
  const sans = [
    ...names.dns.map((value) => ({ type: "dns" as const, value })),
    ...names.ips.map((value) => ({ type: "ip" as const, value })),
  ];
  const cn = names.dns[0] ?? names.ips[0];
  if (!cn) throw new RangeError("give at least one --dns or --ip");
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: isIP(cn) ? undefined : [{ CN: [cn] }],
    keys,
    signingAlgorithm: signingAlgorithm(keyKindOf(key)),
    extensions: [new x509.SubjectAlternativeNameExtension(sans)],
  });
  return csr.toString("pem");
}

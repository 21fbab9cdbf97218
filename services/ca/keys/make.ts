import { createPublicKey, type KeyObject, webcrypto } from "node:crypto";
import { keyKindOf, signingAlgorithm, toWebKeyPair } from "../../../shared/keys.js";
import { children, readElement } from "../../../shared/x509/der.js";
import type { loadX509 } from "../../../shared/x509/peculiar.js";
import { keyIdentifier } from "../core/profile.js";

/**
 * The CA certificates themselves, for init and rotation: a self-signed root (20 years), an
 * intermediate under it (10 years, path length 0, the name constraints it is given), and a
 * cross-certificate that lets clients who trust an earlier root reach a later one.
 */

type X509 = Awaited<ReturnType<typeof loadX509>>;
type Cert = InstanceType<X509["X509Certificate"]>;

/** The same calendar date and time, `years` later (29 February becomes 1 March). */
export function yearsAfter(now: number, years: number): Date {
  const d = new Date(now);
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d;
}

/** A subject: the common name, and from the second generation on an OU that tells them apart. */
export function caSubject(commonName: string, generation: number): Record<string, string[]>[] {
  return generation > 1
    ? [{ CN: [commonName] }, { OU: [`generation ${generation}`] }]
    : [{ CN: [commonName] }];
}

export async function makeRoot(
  x509: X509,
  o: { subject: ReturnType<typeof caSubject>; key: KeyObject; now: number },
): Promise<Cert> {
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: o.subject,
    notBefore: new Date(o.now - 60_000),
    notAfter: yearsAfter(o.now, 20),
    keys: await toWebKeyPair(o.key),
    signingAlgorithm: signingAlgorithm(keyKindOf(o.key)),
    extensions: caExtensions(x509, skiOf(o.key), null, undefined),
  });
}

/** `nameConstraints`: the DER of the extension's value, or null for none. */
export async function makeIntermediate(
  x509: X509,
  o: {
    subject: ReturnType<typeof caSubject>;
    key: KeyObject;
    root: Cert;
    rootKey: KeyObject;
    nameConstraints: Buffer | null;
    now: number;
  },
): Promise<Cert> {
  const extensions = [
    ...caExtensions(x509, skiOf(o.key), skiOf(o.rootKey), 0),
    ...(o.nameConstraints ? [new x509.Extension("2.5.29.30", true, o.nameConstraints)] : []),
  ];
  const notAfter = yearsAfter(o.now, 10);
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: o.subject,
    issuer: o.root.subjectName,
    notBefore: new Date(o.now - 60_000),
    // never beyond its root: a chain is only as long-lived as its shortest link
    notAfter: new Date(Math.min(notAfter.getTime(), o.root.notAfter.getTime())),
    publicKey: (await toWebKeyPair(o.key)).publicKey,
    signingKey: (await toWebKeyPair(o.rootKey)).privateKey,
    signingAlgorithm: signingAlgorithm(keyKindOf(o.rootKey)),
    extensions,
  });
}

/**
 * The new root's subject and key, certified by the old root (RFC 4949 "cross-certificate"): a
 * client that trusts only the old root builds leaf -> intermediate -> this -> old root. Valid
 * as long as the old root is.
 */
export async function makeCross(
  x509: X509,
  o: { newRoot: Cert; newKey: KeyObject; oldRoot: Cert; oldKey: KeyObject; now: number },
): Promise<Cert> {
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: o.newRoot.subjectName,
    issuer: o.oldRoot.subjectName,
    notBefore: new Date(o.now - 60_000),
    notAfter: o.oldRoot.notAfter,
    publicKey: (await toWebKeyPair(o.newKey)).publicKey,
    signingKey: (await toWebKeyPair(o.oldKey)).privateKey,
    signingAlgorithm: signingAlgorithm(keyKindOf(o.oldKey)),
    extensions: caExtensions(x509, skiOf(o.newKey), skiOf(o.oldKey), undefined),
  });
}

function caExtensions(x509: X509, ski: Buffer, aki: Buffer | null, pathLength: number | undefined) {
  const flags = x509.KeyUsageFlags;
  const usage = flags.keyCertSign | flags.cRLSign | (pathLength === 0 ? flags.digitalSignature : 0);
  return [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(usage, true),
    new x509.SubjectKeyIdentifierExtension(ski.toString("hex")),
    ...(aki ? [new x509.AuthorityKeyIdentifierExtension(aki.toString("hex"))] : []),
  ];
}

export function skiOf(key: KeyObject): Buffer {
  const spki = createPublicKey(key).export({ type: "spki", format: "der" });
  const [, bits] = children(spki, readElement(spki, 0));
  if (!bits) throw new Error("bad public key");
  return keyIdentifier(spki.subarray(bits.contentStart + 1, bits.end));
}

export function randomSerialHex(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

import { createPublicKey, type KeyObject, X509Certificate as NodeX509, webcrypto } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { dnsNameProblem, normalizeDns } from "../../../shared/dns-name.js";
import { describeIssues, InputError } from "../../../shared/errors.js";
import { syncDir, writeNewFile } from "../../../shared/fs.js";
import {
  exportPrivateKey,
  generateKey,
  KEY_TYPES,
  type KeyType,
  keyKindOf,
  loadPrivateKey,
  type SigningKeyKind,
  signingAlgorithm,
  toWebKeyPair,
} from "../../../shared/keys.js";
import { bytesOf, children, readElement } from "../../../shared/x509/der.js";
import { loadX509 } from "../../../shared/x509/peculiar.js";
import { certificatesFromPem, fingerprint } from "../../../shared/x509/pem.js";
import { formatIpRange, type IpRange, parseIpRange } from "../core/names.js";
import type { Constraints } from "../core/policy.js";
import { keyIdentifier } from "../core/profile.js";
import { constraintsOf, nameConstraintsExtension } from "./name-constraints.js";

import { type CaPaths, caPaths, isInitialised, secureDataDir } from "./paths.js";

export { type CaPaths, caPaths, isInitialised };

const caConfigSchema = z.object({
  name: z.string(),
  keyType: z.enum(KEY_TYPES),
  permitDns: z.array(z.string()),
  permitIp: z.array(z.string()),
  encrypted: z.boolean(),
  createdAt: z.string(),
});
export type CaConfig = z.infer<typeof caConfigSchema>;

export interface CaMaterial {
  config: CaConfig;
  rootPem: string;
  rootDer: Buffer;
  rootFingerprint: string;
  intermediatePem: string;
  intermediateDer: Buffer;
  intermediate: NodeX509;
  intermediateKey: KeyObject;
  intermediateKind: SigningKeyKind;
  /** DER of the intermediate's subject, the issuer of every leaf */
  intermediateSubject: Buffer;
  intermediateKeyId: Buffer;
  constraints: Constraints;
}

/** The same calendar date and time, `years` later (29 February becomes 1 March). */
function yearsAfter(now: number, years: number): Date {
  const d = new Date(now);
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d;
}

/**
 * The root's common name: trimmed, 1 to 48 characters and no control characters, so that the
 * intermediate's ("<name> Intermediate CA") stays within RFC 5280's 64.
 */
export function caName(text: string): string {
  const name = text.trim();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (name.length === 0 || name.length > 48 || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new InputError(`invalid --name "${text}": 1 to 48 characters, no control characters`);
  }
  return name;
}

/**
 * A --permit-dns value: a DNS name whose subtree the intermediate may issue in (RFC 5280
 * 4.2.1.10: the name itself and every name under it). A leading dot is accepted and dropped;
 * a wildcard or an invalid name is refused, since a critical constraint that no name can meet
 * would leave a CA that cannot issue.
 */
export function permittedDnsSubtree(text: string): string {
  const name = normalizeDns(text.trim().replace(/^\./, ""));
  const problem = name.includes("*")
    ? "a wildcard is not a subtree; give the suffix alone"
    : dnsNameProblem(name);
  if (problem) throw new InputError(`invalid --permit-dns "${text}": ${problem}, e.g. lan or example.com`);
  return name;
}

export interface InitOptions {
  name: string;
  keyType: KeyType;
  permitDns: string[];
  permitIp: string[];
  passphrase?: string;
}

/**
 * Makes the root and the intermediate. Every file is created in a staging folder and moved
 * into place only when all exist, ca.json last, so a failed init leaves nothing half made.
 */
export async function createCa(paths: CaPaths, opts: InitOptions): Promise<void> {
  if (isInitialised(paths)) {
    throw new Error(`${paths.dataDir} is already initialised (found ${paths.config}); nothing was changed`);
  }
  const rootName = caName(opts.name);
  const permitDns = opts.permitDns.map(permittedDnsSubtree);
  const ranges: IpRange[] = opts.permitIp.map(parseIpRange);
  const x509 = await loadX509();
  mkdirSync(paths.dataDir, { recursive: true, mode: 0o700 });
  secureDataDir(paths);
  const staging = join(paths.dataDir, `.init-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  try {
    const now = Date.now();
    const notBefore = new Date(now - 60_000);
    const rootKey = generateKey(opts.keyType);
    const rootPair = await toWebKeyPair(rootKey);
    const kind = keyKindOf(rootKey);
    const rootSki = skiOf(rootKey);
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerialHex(),
      name: [{ CN: [rootName] }],
      notBefore,
      notAfter: yearsAfter(now, 20),
      keys: rootPair,
      signingAlgorithm: signingAlgorithm(kind),
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        new x509.SubjectKeyIdentifierExtension(rootSki.toString("hex")),
      ],
    });

    const interKey = generateKey(opts.keyType);
    const interPair = await toWebKeyPair(interKey);
    const extensions: InstanceType<typeof x509.Extension>[] = [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      new x509.SubjectKeyIdentifierExtension(skiOf(interKey).toString("hex")),
      new x509.AuthorityKeyIdentifierExtension(rootSki.toString("hex")),
    ];
    if (permitDns.length > 0 || ranges.length > 0) {
      extensions.push(new x509.Extension("2.5.29.30", true, nameConstraintsExtension(permitDns, ranges)));
    }
    const intermediate = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerialHex(),
      subject: [{ CN: [intermediateName(rootName)] }],
      issuer: root.subjectName,
      notBefore,
      notAfter: yearsAfter(now, 10),
      publicKey: interPair.publicKey,
      signingKey: rootPair.privateKey,
      signingAlgorithm: signingAlgorithm(kind),
      extensions,
    });

    const config: CaConfig = {
      name: rootName,
      keyType: opts.keyType,
      permitDns,
      permitIp: ranges.map(formatIpRange),
      encrypted: opts.passphrase !== undefined,
      createdAt: new Date(now).toISOString(),
    };
    const staged = {
      rootCert: root.toString("pem"),
      rootKey: exportPrivateKey(rootKey, opts.passphrase),
      intermediateCert: intermediate.toString("pem"),
      intermediateKey: exportPrivateKey(interKey, opts.passphrase),
    };
    for (const [name, content] of Object.entries(staged)) {
      writeNewFile(join(staging, name), `${content.trim()}\n`, name.endsWith("Key") ? 0o600 : 0o644);
    }
    writeNewFile(join(staging, "config"), `${JSON.stringify(config, null, 2)}\n`, 0o644);
    syncDir(staging);
    for (const name of ["rootCert", "rootKey", "intermediateCert", "intermediateKey", "config"] as const) {
      renameSync(join(staging, name), paths[name]);
    }
    syncDir(paths.dataDir);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

export function intermediateName(rootName: string): string {
  return /root ca$/i.test(rootName)
    ? rootName.replace(/root ca$/i, "Intermediate CA")
    : `${rootName} Intermediate CA`;
}

export function loadCa(paths: CaPaths, passphrase?: string): CaMaterial {
  if (!existsSync(paths.config)) throw new Error(`${paths.dataDir} is not initialised: run certyard-ca init`);
  const config = readConfig(paths.config);
  const rootPem = readFileSync(paths.rootCert, "utf8");
  const intermediatePem = readFileSync(paths.intermediateCert, "utf8");
  const [rootDer] = certificatesFromPem(rootPem);
  const [intermediateDer] = certificatesFromPem(intermediatePem);
  if (!rootDer || !intermediateDer) throw new Error(`cannot read the CA certificates in ${paths.dataDir}`);
  const intermediateKey = loadPrivateKey(
    readFileSync(paths.intermediateKey, "utf8"),
    paths.intermediateKey,
    passphrase,
  );
  const intermediate = new NodeX509(intermediateDer);
  if (!intermediate.checkPrivateKey(intermediateKey))
    throw new Error(`${paths.intermediateKey} does not match the intermediate`);
  return {
    config,
    rootPem,
    rootDer,
    rootFingerprint: fingerprint(rootDer),
    intermediatePem,
    intermediateDer,
    intermediate,
    intermediateKey,
    intermediateKind: keyKindOf(intermediateKey),
    intermediateSubject: subjectDer(intermediateDer),
    intermediateKeyId: skiOf(intermediateKey),
    // what relying parties enforce is in the certificate; ca.json only records what init was asked
    constraints: constraintsOf(intermediateDer, paths.intermediateCert),
  };
}

/** ca.json, or an error that names it: a bare JSON or schema error says nothing of which file. */
function readConfig(path: string): CaConfig {
  const broken = (why: string) =>
    new Error(`${path} is damaged (${why}): restore it from a backup, or rewrite it as init made it`);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    if (e instanceof SyntaxError) throw broken(`not valid JSON: ${e.message}`);
    throw e;
  }
  const parsed = caConfigSchema.safeParse(data);
  if (!parsed.success) throw broken(describeIssues(parsed.error.issues));
  return parsed.data;
}

/** The subject Name of a certificate, as DER: the sixth field of its TBSCertificate. */
export function subjectDer(certDer: Buffer): Buffer {
  const cert = readElement(certDer, 0);
  const [tbs] = children(certDer, cert);
  if (!tbs) throw new Error("bad certificate");
  const subject = children(certDer, tbs)[5];
  if (!subject) throw new Error("bad certificate");
  return Buffer.from(bytesOf(certDer, subject));
}

function skiOf(key: KeyObject): Buffer {
  const spki = createPublicKey(key).export({ type: "spki", format: "der" });
  const [, bits] = children(spki, readElement(spki, 0));
  if (!bits) throw new Error("bad public key");
  return keyIdentifier(spki.subarray(bits.contentStart + 1, bits.end));
}

function randomSerialHex(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

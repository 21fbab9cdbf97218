import { type KeyObject, X509Certificate as NodeX509 } from "node:crypto";
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
} from "../../../shared/keys.js";
import { bytesOf, children, readElement } from "../../../shared/x509/der.js";
import { loadX509 } from "../../../shared/x509/peculiar.js";
import { certificatesFromPem, fingerprint } from "../../../shared/x509/pem.js";
import { formatIpRange, type IpRange, parseIpRange } from "../core/names.js";
import type { Constraints } from "../core/policy.js";
import { caSubject, makeIntermediate, makeRoot, skiOf } from "./make.js";
import { constraintsOf, nameConstraintsExtension } from "./name-constraints.js";
import { type CaPaths, caPaths, isInitialised, secureDataDir } from "./paths.js";
import { loadPrevious } from "./previous.js";
import { finishRotation } from "./staged.js";

export { type CaPaths, caPaths, isInitialised };

const caConfigSchema = z.object({
  name: z.string(),
  keyType: z.enum(KEY_TYPES),
  permitDns: z.array(z.string()),
  permitIp: z.array(z.string()),
  encrypted: z.boolean(),
  createdAt: z.string(),
  /**
   * Set by the first rotation: the key identifier (hex) of the intermediate init made, whose
   * leaves name GET /crl as their CRL; every later intermediate's leaves name /crl/KEYID.
   */
  firstIntermediate: z.string().optional(),
  /** how many roots and intermediates there have been: names the next ones (OU "generation N") */
  generations: z.object({ root: z.number(), intermediate: z.number() }).optional(),
});
export type CaConfig = z.infer<typeof caConfigSchema>;

export interface CaMaterial extends Issuing {
  config: CaConfig;
  rootPem: string;
  rootDer: Buffer;
  rootFingerprint: string;
  constraints: Constraints;
  /** intermediates rotated out and still valid: their leaves still chain, renew and get a CRL */
  retired: Issuing[];
  /** GET /roots.pem: the root, then the earlier roots until they expire (a rotation's overlap) */
  rootsPem: string;
  /** each later root certified by the earlier one, while that one is valid */
  crossPem: string;
  /** what follows a new leaf: the intermediate, then the cross-certificates to earlier roots */
  chainPem: string;
}

/** An intermediate that signs leaves and the CRL for them. */
export interface Issuing {
  intermediatePem: string;
  intermediateDer: Buffer;
  intermediate: NodeX509;
  intermediateKey: KeyObject;
  intermediateKind: SigningKeyKind;
  /** DER of the intermediate's subject, the issuer of its leaves */
  intermediateSubject: Buffer;
  intermediateKeyId: Buffer;
  /** where its leaves find their CRL, below the CA's URL: /crl, or /crl/KEYID after a rotation */
  crlPath: string;
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
    const rootKey = generateKey(opts.keyType);
    const root = await makeRoot(x509, { subject: caSubject(rootName, 1), key: rootKey, now });
    const interKey = generateKey(opts.keyType);
    const constrained = permitDns.length > 0 || ranges.length > 0;
    const intermediate = await makeIntermediate(x509, {
      subject: caSubject(intermediateName(rootName), 1),
      key: interKey,
      root,
      rootKey,
      nameConstraints: constrained ? nameConstraintsExtension(permitDns, ranges) : null,
      now,
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

export function loadCa(paths: CaPaths, passphrase?: string, now = Date.now()): CaMaterial {
  if (!existsSync(paths.config)) throw new Error(`${paths.dataDir} is not initialised: run certyard-ca init`);
  finishRotation(paths.dataDir);
  const config = readConfig(paths.config);
  const rootPem = readFileSync(paths.rootCert, "utf8");
  const [rootDer] = certificatesFromPem(rootPem);
  if (!rootDer) throw new Error(`cannot read the CA certificates in ${paths.dataDir}`);
  const crlPathOf = (keyId: Buffer) =>
    config.firstIntermediate === undefined || config.firstIntermediate === keyId.toString("hex")
      ? "/crl"
      : `/crl/${keyId.toString("hex")}`;
  const current = loadIssuing(paths.intermediateCert, paths.intermediateKey, passphrase, crlPathOf);
  const previous = loadPrevious(paths.dataDir, now);
  const retired = previous.intermediates.map((p) => loadIssuing(p.cert, p.key, passphrase, crlPathOf));
  return {
    config,
    rootPem,
    rootDer,
    rootFingerprint: fingerprint(rootDer),
    ...current,
    // what relying parties enforce is in the certificate; ca.json only records what init was asked
    constraints: constraintsOf(current.intermediateDer, paths.intermediateCert),
    retired,
    rootsPem: [rootPem, ...previous.roots].map((p) => `${p.trim()}\n`).join(""),
    crossPem: previous.cross.map((p) => `${p.trim()}\n`).join(""),
    chainPem: [current.intermediatePem, ...previous.cross].map((p) => `${p.trim()}\n`).join(""),
  };
}

function loadIssuing(
  certPath: string,
  keyPath: string,
  passphrase: string | undefined,
  crlPathOf: (keyId: Buffer) => string,
): Issuing {
  const intermediatePem = readFileSync(certPath, "utf8");
  const [intermediateDer] = certificatesFromPem(intermediatePem);
  if (!intermediateDer) throw new Error(`cannot read the certificate in ${certPath}`);
  const intermediateKey = loadPrivateKey(readFileSync(keyPath, "utf8"), keyPath, passphrase);
  const intermediate = new NodeX509(intermediateDer);
  if (!intermediate.checkPrivateKey(intermediateKey))
    throw new Error(`${keyPath} does not match ${certPath}`);
  const intermediateKeyId = skiOf(intermediateKey);
  return {
    intermediatePem,
    intermediateDer,
    intermediate,
    intermediateKey,
    intermediateKind: keyKindOf(intermediateKey),
    intermediateSubject: subjectDer(intermediateDer),
    intermediateKeyId,
    crlPath: crlPathOf(intermediateKeyId),
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

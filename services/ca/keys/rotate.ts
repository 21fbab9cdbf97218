import { X509Certificate as NodeX509 } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { exportPrivateKey, generateKey, loadPrivateKey } from "../../../shared/keys.js";
import { extension } from "../../../shared/x509/cert.js";
import { loadX509 } from "../../../shared/x509/peculiar.js";
import { certificatesFromPem, fingerprint } from "../../../shared/x509/pem.js";
import { type CaConfig, type CaPaths, intermediateName, loadCa } from "./ca.js";
import { caSubject, makeCross, makeIntermediate, makeRoot } from "./make.js";
import { PREVIOUS_DIR } from "./previous.js";
import { replaceFiles, type StagedFile } from "./staged.js";

/**
 * `certyard-ca rotate intermediate` and `rotate root`. Nothing issued before stops working:
 * the retired intermediate stays (DATA/previous) so its leaves still chain, renew (onto the new
 * intermediate) and are listed on the CRL it signs; a retired root stays in /roots.pem until
 * it expires, and certifies the new root (a cross-certificate served in every new chain), so a
 * client that trusts only the old root trusts what the new one issues. All files change as one
 * (staged.ts). serve reads the CA files when it starts: restart it afterwards.
 */

export interface Rotated {
  /** serial (hex) of the new intermediate, and of the one it replaced */
  intermediate: string;
  previousIntermediate: string;
  /** fingerprints, when the root rotated */
  root?: string;
  previousRoot?: string;
}

const pemLine = (pem: string) => `${pem.trim()}\n`;

export async function rotateIntermediate(paths: CaPaths, passphrase: string | undefined): Promise<Rotated> {
  return rotate(paths, passphrase, false);
}

export async function rotateRoot(paths: CaPaths, passphrase: string | undefined): Promise<Rotated> {
  return rotate(paths, passphrase, true);
}

async function rotate(paths: CaPaths, passphrase: string | undefined, newRoot: boolean): Promise<Rotated> {
  const now = Date.now();
  const ca = loadCa(paths, passphrase, now);
  if (!existsSync(paths.rootKey)) {
    throw new Error(
      `${paths.rootKey} is missing: a rotation signs with the root key; put it back for the rotation, then take it offline again`,
    );
  }
  const rootKeyPem = readFileSync(paths.rootKey, "utf8");
  const rootKey = loadPrivateKey(rootKeyPem, paths.rootKey, passphrase);
  if (!new NodeX509(ca.rootDer).checkPrivateKey(rootKey))
    throw new Error(`${paths.rootKey} does not match ${paths.rootCert}; nothing was changed`);

  const x509 = await loadX509();
  const gen = ca.config.generations ?? { root: 1, intermediate: 1 };
  const next = { root: gen.root + (newRoot ? 1 : 0), intermediate: gen.intermediate + 1 };
  const oldRoot = new x509.X509Certificate(ca.rootDer);
  const oldIntermediateSerial = ca.intermediate.serialNumber.toLowerCase();
  const files: StagedFile[] = [
    {
      path: `${PREVIOUS_DIR}/intermediate-${oldIntermediateSerial}.crt`,
      content: pemLine(ca.intermediatePem),
      mode: 0o644,
    },
    // as it is on disk: an encrypted key stays encrypted
    {
      path: `${PREVIOUS_DIR}/intermediate-${oldIntermediateSerial}.key`,
      content: readFileSync(paths.intermediateKey, "utf8"),
      mode: 0o600,
    },
  ];

  let issuingRoot = oldRoot;
  let issuingKey = rootKey;
  let result: Partial<Rotated> = {};
  if (newRoot) {
    const key = generateKey(ca.config.keyType);
    const root = await makeRoot(x509, { subject: caSubject(ca.config.name, next.root), key, now });
    const cross = await makeCross(x509, { newRoot: root, newKey: key, oldRoot, oldKey: rootKey, now });
    const oldSerial = oldRoot.serialNumber.toLowerCase();
    files.push(
      { path: `${PREVIOUS_DIR}/root-${oldSerial}.crt`, content: pemLine(ca.rootPem), mode: 0o644 },
      { path: `${PREVIOUS_DIR}/root-${oldSerial}.key`, content: rootKeyPem, mode: 0o600 },
      {
        path: `${PREVIOUS_DIR}/cross-${root.serialNumber.toLowerCase()}.crt`,
        content: pemLine(cross.toString("pem")),
        mode: 0o644,
      },
      { path: "root.crt", content: pemLine(root.toString("pem")), mode: 0o644 },
      { path: "root.key", content: exportPrivateKey(key, passphrase), mode: 0o600 },
    );
    issuingRoot = root;
    issuingKey = key;
    result = { root: fingerprint(Buffer.from(root.rawData)), previousRoot: ca.rootFingerprint };
  }

  const key = generateKey(ca.config.keyType);
  // the same constraints, byte for byte, as the intermediate it replaces
  const constraints = extension(ca.intermediateDer, "2.5.29.30")?.value ?? null;
  const intermediate = await makeIntermediate(x509, {
    subject: caSubject(intermediateName(ca.config.name), next.intermediate),
    key,
    root: issuingRoot,
    rootKey: issuingKey,
    nameConstraints: constraints,
    now,
  });
  const config: CaConfig = {
    ...ca.config,
    firstIntermediate: ca.config.firstIntermediate ?? ca.intermediateKeyId.toString("hex"),
    generations: next,
  };
  files.push(
    { path: "intermediate.crt", content: pemLine(intermediate.toString("pem")), mode: 0o644 },
    { path: "intermediate.key", content: exportPrivateKey(key, passphrase), mode: 0o600 },
    // last in the plan: a rotation is finished when ca.json says so
    { path: "ca.json", content: `${JSON.stringify(config, null, 2)}\n`, mode: 0o644 },
  );
  replaceFiles(paths.dataDir, files);
  // what was written must load as a CA, or the error says so now rather than at the next start
  const loaded = loadCa(paths, passphrase);
  if (!certificatesFromPem(loaded.chainPem).length) throw new Error("the rotated CA has no chain");
  return {
    intermediate: intermediate.serialNumber.toLowerCase(),
    previousIntermediate: oldIntermediateSerial,
    ...result,
  };
}

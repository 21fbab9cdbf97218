import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Bad CSRs made from good ones: byte-level tampering and keys openssl's `req -newkey` cannot make. */

const CSR_LABEL = "CERTIFICATE REQUEST";

/** The DER inside a PEM CERTIFICATE REQUEST. */
export function csrToDer(pem: string): Buffer {
  const m = /-----BEGIN CERTIFICATE REQUEST-----([\s\S]*?)-----END CERTIFICATE REQUEST-----/.exec(pem);
  if (!m?.[1]) throw new Error("no PEM CERTIFICATE REQUEST");
  return Buffer.from(m[1].replace(/\s+/g, ""), "base64");
}

/** PEM armour around arbitrary bytes, 64 columns, with the given label. */
export function toPem(der: Uint8Array, label = CSR_LABEL): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** The CSR with the last byte of its DER (inside the signature value) XORed with 0x01. */
export function flipSignatureByte(pem: string): string {
  const der = csrToDer(pem);
  const last = der.length - 1;
  der[last] = (der[last] ?? 0) ^ 0x01;
  return toPem(der);
}

/** The CSR with one ASCII string in its signed part replaced by another of the same length. */
export function replaceInCsr(pem: string, from: string, to: string): string {
  if (from.length !== to.length) throw new Error("replacement must keep the length");
  const der = csrToDer(pem);
  const at = der.indexOf(Buffer.from(from, "latin1"));
  if (at < 0) throw new Error(`"${from}" not found in the CSR`);
  der.write(to, at, "latin1");
  return toPem(der);
}

/** `openssl req -new` for a given private key (PEM). */
export function csrForKey(keyPem: string, san: string[], digest = "sha256"): string {
  const dir = mkdtempSync(join(tmpdir(), "certyard-corpus-"));
  try {
    writeFileSync(join(dir, "key.pem"), keyPem, { mode: 0o600 });
    const args = ["req", "-new", "-key", join(dir, "key.pem"), "-out", join(dir, "csr.pem"), "-subj", "/"];
    if (san.length) args.push("-addext", `subjectAltName=${san.join(",")}`);
    args.push(`-${digest}`);
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
    return readFileSync(join(dir, "csr.pem"), "utf8");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An RSA private key (PKCS#8 PEM) with a chosen public exponent, e.g. 3. */
export function rsaKeyWithExponent(bits: number, publicExponent: number): string {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: bits, publicExponent });
  return privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

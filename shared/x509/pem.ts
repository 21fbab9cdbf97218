import { createHash } from "node:crypto";
import { InputError } from "../errors.js";

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END \1-----/g;

export interface PemBlock {
  label: string;
  der: Buffer;
}

export function decodePem(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const [, label = "", body = ""] = m;
    // node's base64 decoder skips the line breaks itself
    out.push({ label, der: Buffer.from(body, "base64") });
  }
  return out;
}

export function encodePem(label: string, der: Uint8Array): string {
  // a view, not a copy (each issued certificate comes through here)
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  let body = "";
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

export function certificatesFromPem(text: string): Buffer[] {
  return decodePem(text)
    .filter((b) => b.label === "CERTIFICATE")
    .map((b) => b.der);
}

/** Lowercase hex SHA-256 of the certificate's DER, no colons (the contract's fingerprint form). */
export function fingerprint(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex");
}

/** Accepts `AB:CD:...`, upper or lower case, and returns the canonical form. */
export function normalizeFingerprint(input: string): string {
  const hex = input.trim().replace(/:/g, "").toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new InputError("a fingerprint is 64 hex digits (SHA-256)");
  return hex;
}

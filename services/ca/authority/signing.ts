import { type KeyObject, randomFillSync, sign } from "node:crypto";
import { normalizeDns } from "../../../shared/dns-name.js";
import { canonicalIp } from "../core/names.js";

/**
 * The certificate's signature, made on libuv's threadpool (node:crypto's sign with a callback):
 * the event loop goes on with other requests' TLS, HTTP and SQLite meanwhile, so one process
 * uses both cores of a small host. Same key, same algorithm, same DER signature as the
 * synchronous call.
 */
export function signOnThreadpool(hash: string, tbs: Uint8Array, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    sign(hash, tbs, { key, dsaEncoding: "der" }, (err, signature) =>
      err ? reject(err) : resolve(signature),
    ),
  );
}

/**
 * 128 random bits per serial (more than the 64 CA/B BR 7.1 asks), taken from a pool that one
 * call of the CSPRNG refills every 256 serials: a call per serial cost more than the rest of the
 * serial's handling.
 */
const SERIAL_BYTES = 16;
const serialPool = Buffer.alloc(SERIAL_BYTES * 256);
let serialOffset = serialPool.length;
export function serialBytes(): Buffer {
  if (serialOffset === serialPool.length) {
    randomFillSync(serialPool);
    serialOffset = 0;
  }
  const out = Buffer.from(serialPool.subarray(serialOffset, serialOffset + SERIAL_BYTES));
  serialPool.fill(0, serialOffset, serialOffset + SERIAL_BYTES);
  serialOffset += SERIAL_BYTES;
  return out;
}

/** The subject CN survives only if it is one of the certificate's SANs (CA/B BR 7.1.4.3 spirit). */
export function keptCommonName(
  cn: string | null,
  dns: readonly string[],
  ips: readonly string[],
): string | null {
  if (cn === null) return null;
  // the SAN it names, as the SAN is spelt (lower case, canonical)
  const name = dns.find((d) => normalizeDns(d) === normalizeDns(cn));
  if (name !== undefined) return name;
  try {
    const ip = canonicalIp(cn);
    if (ips.includes(ip)) return ip;
  } catch {
    // not an IP address
  }
  return null;
}

/** The serial's DER INTEGER as canonical hex: the value's bytes, without the sign-padding zero. */
export function serialHex(serialDer: Buffer): string {
  let content = serialDer.subarray(2);
  if (content[0] === 0 && content.length > 1) content = content.subarray(1);
  return content.toString("hex");
}

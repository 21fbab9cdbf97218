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
 * A serial is the issuance time in milliseconds (6 bytes, big-endian), then 96 random bits (more
 * than the 64 CA/B BR 7.1 asks; 144 bits in all, under its 2^159): serials issued later sort
 * after those before them, so the inventory's serial index takes each new one at its end, in one
 * page per commit, instead of a page of its own somewhere in the file (issue 16: 1.25 pages
 * written per issuance at 100,000 certificates). The leading byte is 0x01 until 2039 and below
 * 0x80 for millennia: a positive INTEGER of a fixed length, whose hex sorts as its value.
 * The random bits come from a pool that one call of the CSPRNG refills every 256 serials: a
 * call per serial cost more than the rest of the serial's handling.
 */
const TIME_BYTES = 6;
const RANDOM_BYTES = 12;
const randomPool = Buffer.alloc(RANDOM_BYTES * 256);
let randomOffset = randomPool.length;
export function serialBytes(now: number = Date.now()): Buffer {
  if (randomOffset === randomPool.length) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  const out = Buffer.allocUnsafe(TIME_BYTES + RANDOM_BYTES);
  out.writeUIntBE(now, 0, TIME_BYTES);
  randomPool.copy(out, TIME_BYTES, randomOffset, randomOffset + RANDOM_BYTES);
  randomPool.fill(0, randomOffset, randomOffset + RANDOM_BYTES);
  randomOffset += RANDOM_BYTES;
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

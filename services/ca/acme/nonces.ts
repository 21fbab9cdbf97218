import { createHmac, hkdfSync, type KeyObject, randomBytes, timingSafeEqual } from "node:crypto";
import type { AcmeDeps } from "./deps.js";

/**
 * RFC 8555 6.5 nonces, stateless until used. A nonce is
 *   version (1 byte) | issued at, ms since the epoch (8) | random (16) | HMAC-SHA-256 of those, cut to 16
 * in base64url. Issuing one writes nothing: every /acme response carries a nonce, and a table row
 * for each let any GET grow the database (3,000 GETs, 3,000 rows). A nonce is checked by its MAC
 * and age; only a nonce that passes is written down, in the used-nonce record, to refuse its
 * replay; a timer sweeps the record once its nonces are past their lifetime, when the age check
 * alone refuses them. The key is derived from the intermediate's private key (HKDF), so every
 * process serving the same CA keys over the same database checks every other's nonces with no
 * key of its own to share, store or race to create.
 */

const VERSION = 1;
const RANDOM_BYTES = 16;
const MAC_BYTES = 16;
const SIGNED_BYTES = 1 + 8 + RANDOM_BYTES;
const NONCE_CHARS = Math.ceil(((SIGNED_BYTES + MAC_BYTES) * 4) / 3);
/**
 * Clock difference allowed between the processes of one CA: a nonce's use is remembered this
 * much longer than its lifetime, so that a process whose clock is behind the sweeper's never
 * accepts a replay the sweep has already forgotten.
 */
const SKEW_MS = 5 * 60_000;

/** The nonces' MAC key: HKDF-SHA-256 of the intermediate's private key, for this use only. */
export function nonceKey(intermediateKey: KeyObject): Buffer {
  const ikm = intermediateKey.export({ type: "pkcs8", format: "der" });
  return Buffer.from(hkdfSync("sha256", ikm, "certyard", "acme replay-nonce v1", 32));
}

const mac = (key: Buffer, signed: Buffer) =>
  createHmac("sha256", key).update(signed).digest().subarray(0, MAC_BYTES);

export function nonceService(deps: Pick<AcmeDeps, "store" | "clock" | "limits" | "nonceKey">) {
  return {
    /** a fresh nonce, for every ACME response (6.5) */
    issue(): string {
      const signed = Buffer.alloc(SIGNED_BYTES);
      signed[0] = VERSION;
      signed.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(deps.clock()))), 1);
      randomBytes(RANDOM_BYTES).copy(signed, 9);
      return Buffer.concat([signed, mac(deps.nonceKey, signed)]).toString("base64url");
    },
    /** true when this CA issued the nonce, it is within its lifetime and unused; now it is used */
    async consume(nonce: string): Promise<boolean> {
      if (nonce.length !== NONCE_CHARS || !/^[A-Za-z0-9_-]+$/.test(nonce)) return false;
      const raw = Buffer.from(nonce, "base64url");
      const signed = raw.subarray(0, SIGNED_BYTES);
      const tag = raw.subarray(SIGNED_BYTES);
      if (raw[0] !== VERSION || tag.length !== MAC_BYTES) return false;
      if (!timingSafeEqual(tag, mac(deps.nonceKey, signed))) return false;
      const expires = Number(signed.readBigUInt64BE(1)) + deps.limits.nonceLifetimeMs;
      if (expires <= deps.clock()) return false;
      return deps.store.nonces.use(tag.toString("base64url"), expires + SKEW_MS);
    },
  };
}

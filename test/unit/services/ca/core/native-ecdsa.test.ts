import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, sign, verify } from "node:crypto";
import { describe, test } from "node:test";
import { nativeEcdsa } from "../../../../../services/ca/core/native-ecdsa.js";

/**
 * The native CSR signature check against node:crypto on the same inputs: it must say yes exactly
 * where node says yes. CI builds the addon in `prepare`, so here it must be loaded.
 */
const CURVES = [
  { name: "P-256", bits: 256, size: 32 },
  { name: "P-384", bits: 384, size: 48 },
] as const;
const HASHES = ["sha256", "sha384", "sha512"] as const;

function pointOf(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: "spki", format: "der" });
  return spki.subarray(spki.length - (publicKey.asymmetricKeyDetails?.namedCurve === "secp384r1" ? 97 : 65));
}

/** node's answer for a raw point: a point it cannot import is a "no". */
function nodeSays(
  curve: string,
  size: number,
  point: Buffer,
  hash: string,
  msg: Buffer,
  sig: Buffer,
): boolean {
  if (point.length !== 1 + 2 * size || point[0] !== 4) return false;
  let key: KeyObject;
  try {
    key = createPublicKey({
      key: {
        kty: "EC",
        crv: curve,
        x: point.subarray(1, 1 + size).toString("base64url"),
        y: point.subarray(1 + size).toString("base64url"),
      },
      format: "jwk",
    });
  } catch {
    return false;
  }
  return verify(hash, msg, { key, dsaEncoding: "der" }, sig);
}

describe("native ECDSA check of CSR signatures", () => {
  const native = nativeEcdsa;

  test("the addon is built and loaded (npm run build:native)", () => {
    assert.ok(native, "native/ecdsa-verify/build/Release/certyard_ecdsa.node did not load");
  });

  for (const c of CURVES) {
    for (const hash of HASHES) {
      test(`${c.name} with ${hash}: agrees with node:crypto on good, altered and foreign inputs`, () => {
        assert.ok(native);
        for (let i = 0; i < 8; i++) {
          const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: c.name });
          const other = pointOf(generateKeyPairSync("ec", { namedCurve: c.name }).publicKey);
          const point = pointOf(publicKey);
          const msg = randomBytes(200 + i);
          const sig = sign(hash, msg, { key: privateKey, dsaEncoding: "der" });
          const flipped = (b: Buffer, at: number) => {
            const copy = Buffer.from(b);
            copy[at % copy.length] = (copy[at % copy.length] ?? 0) ^ (1 << (i % 8));
            return copy;
          };
          const cases: [string, Buffer, Buffer, Buffer, boolean][] = [
            ["good", point, msg, sig, true],
            ["signature bit flipped", point, msg, flipped(sig, sig.length - 1 - i), false],
            ["signature header altered", point, msg, flipped(sig, 1), false],
            ["trailing byte after the signature", point, msg, Buffer.concat([sig, Buffer.from([0])]), false],
            ["message bit flipped", point, flipped(msg, i * 7), sig, false],
            ["another key", other, msg, sig, false],
            ["point off the curve", flipped(point, point.length - 1), msg, sig, false],
            [
              "compressed-point prefix",
              Buffer.concat([Buffer.from([2]), point.subarray(1)]),
              msg,
              sig,
              false,
            ],
            ["point cut short", point.subarray(0, point.length - 1), msg, sig, false],
            ["empty signature", point, msg, Buffer.alloc(0), false],
          ];
          for (const [what, p, m, s, expected] of cases) {
            const got = native.verify(c.bits, p, hash, m, s);
            assert.equal(got, expected, `${what}: native said ${got}`);
            assert.equal(got, nodeSays(c.name, c.size, p, hash, m, s), `${what}: node:crypto disagrees`);
          }
        }
      });
    }
  }

  test("a P-256 point is not accepted as P-384, nor the other way round", () => {
    assert.ok(native);
    const k256 = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const msg = randomBytes(64);
    const sig = sign("sha256", msg, { key: k256.privateKey, dsaEncoding: "der" });
    assert.equal(native.verify(384, pointOf(k256.publicKey), "sha256", msg, sig), false);
  });

  test("bad arguments are a TypeError, not an answer", () => {
    assert.ok(native);
    const b = Buffer.alloc(65, 4);
    const call = (...args: unknown[]) => (native.verify as (...a: unknown[]) => boolean)(...args);
    assert.throws(() => call(521, b, "sha256", b, b), TypeError);
    assert.throws(() => call(256, b, "md5", b, b), TypeError);
    assert.throws(() => call(256, "not a buffer", "sha256", b, b), TypeError);
    assert.throws(() => call(256, b, "sha256", b), TypeError);
  });
});

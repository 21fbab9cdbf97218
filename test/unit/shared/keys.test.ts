import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { generateKey, KEY_TYPES } from "../../../shared/keys.js";

const KEYS = fileURLToPath(new URL("../../../shared/keys.js", import.meta.url));

describe("generateKey", () => {
  test("makes each key type", () => {
    const expected = {
      "ec-p256": ["ec", "prime256v1"],
      "ec-p384": ["ec", "secp384r1"],
      "rsa-2048": ["rsa", 2048],
      "rsa-3072": ["rsa", 3072],
      "rsa-4096": ["rsa", 4096],
    } as const;
    for (const type of KEY_TYPES) {
      const key = generateKey(type);
      const d = key.asymmetricKeyDetails;
      assert.equal(key.type, "private", type);
      assert.deepEqual([key.asymmetricKeyType, d?.namedCurve ?? d?.modulusLength], expected[type], type);
    }
  });

  test("its keys export as JWK while garbage collections run (as jose does to sign)", () => {
    // --gc-interval=50 runs a GC every 50 allocations. Node 20 hung here within about 200 rounds
    // on keys straight from generateKeyPairSync (a GC destroyed the generation job inside the
    // export); node 24 does not, so generateKey no longer re-imports its keys.
    const script = `const { generateKey } = await import(${JSON.stringify(KEYS)});
      for (let i = 0; i < 1000; i++) generateKey("ec-p256").export({ format: "jwk" });
      process.stdout.write("done");`;
    const r = spawnSync(process.execPath, ["--gc-interval=50", "--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 90_000,
    });
    assert.equal(r.signal, null, "the loop hung and was killed");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "done");
  });
});

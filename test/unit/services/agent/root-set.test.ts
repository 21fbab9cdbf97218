import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { nextRoots } from "../../../../services/agent/actions/root-set.js";
import { caSubject, makeCross, makeRoot } from "../../../../services/ca/keys/make.js";
import { generateKey } from "../../../../shared/keys.js";
import { loadX509 } from "../../../../shared/x509/peculiar.js";
import { certificatesFromPem, fingerprint } from "../../../../shared/x509/pem.js";

const YEAR = 365 * 86_400_000;
const fp = (pem: string) => fingerprint(certificatesFromPem(pem)[0] as Uint8Array);

/** An old root made 5 years ago, a new one now, and the cross-certificate between them. */
async function rotation() {
  const x509 = await loadX509();
  const now = Date.now();
  const oldKey = generateKey("ec-p256");
  const old = await makeRoot(x509, {
    subject: caSubject("Set Root CA", 1),
    key: oldKey,
    now: now - 5 * YEAR,
  });
  const newKey = generateKey("ec-p256");
  const fresh = await makeRoot(x509, { subject: caSubject("Set Root CA", 2), key: newKey, now });
  const cross = await makeCross(x509, { newRoot: fresh, newKey, oldRoot: old, oldKey, now });
  const strangerKey = generateKey("ec-p256");
  const stranger = await makeRoot(x509, { subject: caSubject("Set Root CA", 2), key: strangerKey, now });
  // a "cross-certificate" for the stranger's key, signed by the stranger itself
  const forged = await makeCross(x509, {
    newRoot: stranger,
    newKey: strangerKey,
    oldRoot: stranger,
    oldKey: strangerKey,
    now,
  });
  const pem = (c: { toString(f: "pem"): string }) => `${c.toString("pem")}\n`;
  return {
    old: pem(old),
    fresh: pem(fresh),
    cross: pem(cross),
    stranger: pem(stranger),
    forged: pem(forged),
    oldExpires: old.notAfter.getTime(),
  };
}

describe("which roots the agent trusts after check-root", async () => {
  const r = await rotation();
  const now = Date.now();

  test("no rotation: nothing adopted or dropped", () => {
    const next = nextRoots(r.old, { pem: r.old }, now);
    assert.deepEqual(next, { ok: true, pem: r.old, current: fp(r.old), adopted: [], dropped: [] });
  });

  test("a new root certified by the trusted one is adopted beside it, oldest first", () => {
    const next = nextRoots(r.old, { pem: r.fresh, roots: r.fresh + r.old, cross: r.cross }, now);
    assert.ok(next.ok);
    assert.deepEqual(next.adopted, [fp(r.fresh)]);
    assert.equal(next.pem, r.old + r.fresh);
    assert.equal(next.current, fp(r.fresh));
  });

  test("a root no cross-certificate of a trusted root links is not adopted", () => {
    for (const served of [
      { pem: r.stranger, roots: r.stranger + r.old },
      { pem: r.stranger, roots: r.stranger + r.old, cross: r.forged },
      // the real cross-certificate names another key
      { pem: r.stranger, roots: r.stranger + r.old, cross: r.cross },
    ]) {
      assert.deepEqual(nextRoots(r.old, served, now), { ok: false, served: fp(r.stranger) });
    }
  });

  test("a host pinned to the new root also trusts the old one, which certified it", () => {
    const next = nextRoots(r.fresh, { pem: r.fresh, roots: r.fresh + r.old, cross: r.cross }, now);
    assert.ok(next.ok);
    assert.deepEqual(next.adopted, [fp(r.old)]);
  });

  test("the old root goes only once it has expired, and the current one never", () => {
    const served = { pem: r.fresh, roots: r.fresh, cross: "" };
    const before = nextRoots(r.old + r.fresh, served, r.oldExpires - 1000);
    assert.ok(before.ok);
    assert.deepEqual(before.dropped, []);
    const afterwards = nextRoots(r.old + r.fresh, served, r.oldExpires + 1000);
    assert.ok(afterwards.ok);
    assert.deepEqual(afterwards.dropped, [fp(r.old)]);
    assert.equal(afterwards.pem, r.fresh);
    // one root left: kept even when expired (check-root then reports what the CA serves)
    const alone = nextRoots(r.old, { pem: r.old }, r.oldExpires + 1000);
    assert.ok(alone.ok);
    assert.deepEqual(alone.dropped, []);
  });
});

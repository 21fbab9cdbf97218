import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Authority } from "../../services/ca/authority/authority.js";
import { issueServingCert, readServingCert } from "../../services/ca/authority/serving.js";
import {
  checkServingCert,
  type RunUnderLease,
  SERVING_LEASE,
} from "../../services/ca/authority/serving-renewal.js";
import { init } from "../../services/ca/cli/init.js";
import { loadCa } from "../../services/ca/keys/ca.js";
import { caPaths } from "../../services/ca/keys/paths.js";
import { openStoreAt } from "../../services/ca/store/open.js";
import type { StorePorts } from "../../services/ca/store/ports.js";

const DAY = 86_400_000;
const names = { dns: ["localhost"], ips: ["127.0.0.1"] };

/**
 * Issue 17: the serving certificate a data directory shares between replicas is renewed by the
 * replica holding the lease "serving-cert", one at a time; the others take up what it stored,
 * and renew by themselves only late in its life (a data directory that is a replica's own copy).
 */
describe("serving certificate renewal under its lease", () => {
  let data: string;
  let store: StorePorts;
  let authority: Authority;
  before(async () => {
    data = mkdtempSync(join(tmpdir(), "certyard-serving-"));
    await init({ data, name: "Serving Test Root CA", keyType: "ec-p256" });
    const paths = caPaths(data);
    store = await openStoreAt(paths.db);
    authority = new Authority(loadCa(paths), store, "https://127.0.0.1:8443/crl", Date.now);
  });
  after(async () => {
    await store?.close();
    if (data) rmSync(data, { recursive: true, force: true });
  });

  /** The stored certificate's record made `days` old (of 30): only server.json says how old it is. */
  function age(days: number): string {
    const metaPath = join(data, "tls", "server.json");
    const meta = JSON.parse(readFileSync(metaPath, "utf8")) as { notBefore: number; notAfter: number };
    meta.notBefore = Date.now() - days * DAY;
    meta.notAfter = meta.notBefore + 30 * DAY;
    writeFileSync(`${metaPath}.tmp`, JSON.stringify(meta));
    renameSync(`${metaPath}.tmp`, metaPath);
    return readServingCert(data)?.serial ?? "";
  }
  const asked: string[] = [];
  const holder: RunUnderLease = async (name, fn) => {
    asked.push(name);
    await fn();
    return true;
  };
  const notHolder: RunUnderLease = async (name) => {
    asked.push(name);
    return false;
  };
  const check = (run: RunUnderLease, n = names) =>
    checkServingCert({ authority, dataDir: data, names: n, now: Date.now(), mayIssue: true }, run);

  test("not due: the stored one, the lease not asked for", async () => {
    const stored = await issueServingCert(authority, data, names);
    asked.length = 0;
    const r = await check(holder);
    assert.deepEqual([r.cert.serial, r.issued, asked], [stored.serial, false, []]);
  });

  test("due (two thirds of its life): a replica without the lease keeps the stored one, the holder renews it", async () => {
    const old = age(21);
    asked.length = 0;
    const kept = await check(notHolder);
    assert.deepEqual([kept.cert.serial, kept.issued, asked], [old, false, [SERVING_LEASE]]);
    assert.equal(readServingCert(data)?.serial, old);
    const renewed = await check(holder);
    assert.equal(renewed.issued, true);
    assert.notEqual(renewed.cert.serial, old);
    assert.equal(readServingCert(data)?.serial, renewed.cert.serial);
    // and the one without the lease takes it up at its next look
    const taken = await check(notHolder);
    assert.deepEqual([taken.cert.serial, taken.issued], [renewed.cert.serial, false]);
  });

  test("a holder that finds the files renewed since it read them (the holder before it did) issues nothing", async () => {
    age(21);
    let before = "";
    const lateHolder: RunUnderLease = async (_name, fn) => {
      before = (await issueServingCert(authority, data, names)).serial;
      await fn();
      return true;
    };
    const r = await check(lateHolder);
    assert.deepEqual([r.cert.serial, r.issued], [before, false]);
  });

  test("five sixths through its life, a replica without the lease renews by itself (a data directory of its own)", async () => {
    const old = age(26);
    const r = await check(notHolder);
    assert.equal(r.issued, true);
    assert.notEqual(r.cert.serial, old);
  });

  test("other names: replaced at once, lease or not", async () => {
    const old = readServingCert(data)?.serial;
    const r = await check(notHolder, { dns: ["localhost", "ca.test"], ips: ["127.0.0.1"] });
    assert.equal(r.issued, true);
    assert.notEqual(r.cert.serial, old);
    assert.deepEqual(r.cert.names.dns, ["localhost", "ca.test"]);
  });
});

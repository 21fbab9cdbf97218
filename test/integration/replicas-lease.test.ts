import assert from "node:assert/strict";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import Database from "better-sqlite3";
import { httpsRequest } from "../helpers/ca.js";
import { caCli } from "../helpers/ca-process.js";
import { kill9, replicaDataDirs, startReplica, stopReplicas, taken } from "../helpers/replica-process.js";

/*
 * Replicas: separate processes, each with its own copy of the data directory (the CA keys), on
 * one database (here one SQLite file, which several processes share for real). Nothing one of
 * them keeps in memory may make it answer otherwise than the others.
 */

/** twoDataDirs: an initialised CA in `a`, its keys copied to `b`, both to use a's database. */
const { dir, two: twoDataDirs } = replicaDataDirs();

/** The holder of a lease in the database, as its table has it now. */
function leaseHolder(db: string, name: string): string | null {
  const sqlite = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const row = sqlite.prepare("select holder from leases where name = ?").get(name) as
      | { holder: string }
      | undefined;
    return row?.holder ?? null;
  } finally {
    sqlite.close();
  }
}

test("periodic work runs in the replica holding its lease; kill -9 of the holder, and the other takes it over", async () => {
  const dirs = twoDataDirs("lease");
  const replicas = await Promise.all([startReplica(dirs.a, dirs.db), startReplica(dirs.b, dirs.db)]);
  try {
    // the CRL refresh (every 0.2 s here) is taken by one of them, maybe before its port line was
    // read (stderr and stdout are two pipes: their lines arrive in either order)
    const first = await Promise.race(replicas.map((r) => r.anyLog(taken("crl-refresh")).then(() => r)));
    const other = replicas.find((r) => r !== first);
    assert.ok(other);
    assert.equal(leaseHolder(dirs.db, "crl-refresh"), first.holder);
    // the other asks every 0.3 s and is refused while the holder renews: several ttls pass
    const otherTook = other.nextLog(taken("crl-refresh"));
    await first.nextLog((l) => l.msg === "lease renewed" && l.lease === "crl-refresh");
    assert.equal(leaseHolder(dirs.db, "crl-refresh"), first.holder);
    assert.equal(other.logs.filter(taken("crl-refresh")).length, 0, "never held by both");

    const killedAt = Date.now();
    await kill9(first);
    await otherTook;
    const after = Date.now() - killedAt;
    // within the ttl (1.5 s) and one renewal period (0.3 s), with room for a loaded machine
    assert.ok(after < 10_000, `took ${after} ms`);
    assert.equal(leaseHolder(dirs.db, "crl-refresh"), other.holder);
    // and it serves on: the CRL is there to fetch
    const crl = await httpsRequest(`https://127.0.0.1:${other.port}/crl`, dirs.rootPem);
    assert.equal(crl.status, 200);
  } finally {
    await stopReplicas(replicas);
  }
});

/** The serial of the certificate a server presents, lower-case hex without leading zeros. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host: "127.0.0.1", port, servername: "localhost", rejectUnauthorized: false },
      () => {
        const serial = socket.getPeerCertificate().serialNumber;
        socket.destroy();
        resolve(serial.toLowerCase().replace(/^0+/, ""));
      },
    );
    socket.once("error", reject);
  });
}

/** Certificates in the inventory (the serving certificates are in it). */
function certificateCount(db: string): number {
  const sqlite = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return (sqlite.prepare("select count(*) as n from certificates").get() as { n: number }).n;
  } finally {
    sqlite.close();
  }
}

test("replicas sharing one data directory: the one holding the serving-cert lease renews the certificate, the other takes it up", async () => {
  const data = join(dir, "shared");
  assert.equal(caCli(["init", "--data", data]).code, 0);
  const db = join(data, "certyard.db");
  // one after the other: the first issues DATA/tls, the second finds it
  const replicas = [await startReplica(data, db)];
  replicas.push(await startReplica(data, db));
  try {
    const [a, b] = replicas;
    assert.ok(a && b);
    const first = await servedSerial(a.port);
    assert.equal(await servedSerial(b.port), first);
    const issuedBefore = certificateCount(db);
    // 21 of its 30 days gone, as its record in DATA/tls says: due, and both look every 0.2 s
    const metaPath = join(data, "tls", "server.json");
    const meta = JSON.parse(readFileSync(metaPath, "utf8")) as { notBefore: number; notAfter: number };
    meta.notBefore = Date.now() - 21 * 86_400_000;
    meta.notAfter = meta.notBefore + 30 * 86_400_000;
    writeFileSync(`${metaPath}.tmp`, JSON.stringify(meta));
    renameSync(`${metaPath}.tmp`, metaPath);

    const renewed = (l: Record<string, unknown>) => l.msg === "serving certificate renewed";
    const { r: issuer, line } = await Promise.race(
      replicas.map((r) => r.anyLog(renewed).then((l) => ({ r, line: l }))),
    );
    const other = issuer === a ? b : a;
    const serial = String(line.serial).toLowerCase().replace(/^0+/, "");
    assert.notEqual(serial, first);
    await other.anyLog((l) => l.msg === "serving certificate taken up from the data directory");
    assert.equal(leaseHolder(db, "serving-cert"), issuer.holder);
    // the holder looks again (and renews its lease): still the one certificate
    await issuer.nextLog((l) => l.msg === "lease renewed" && l.lease === "serving-cert");
    assert.equal(certificateCount(db), issuedBefore + 1);
    assert.equal(other.logs.filter(renewed).length, 0);
    assert.equal(issuer.logs.filter(renewed).length, 1);
    assert.deepEqual([await servedSerial(a.port), await servedSerial(b.port)], [serial, serial]);
  } finally {
    await stopReplicas(replicas);
  }
});

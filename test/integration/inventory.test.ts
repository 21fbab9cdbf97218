import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { encodeCursor } from "../../services/ca/core/inventory.js";
import type { CertificateRecord } from "../../services/ca/core/types.js";
import { drizzle, migrate } from "../../services/ca/store/drizzle.cjs";
import { openStore } from "../../services/ca/store/index.js";
import type { IssuedCertificate } from "../../shared/api.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { CA_BIN, caCliAsync, caEnv } from "../helpers/ca-process.js";
import { makeCsr } from "../helpers/openssl.js";
import { openTestStore, sqlRows } from "../helpers/test-db.js";

const DAY = 86_400_000;

interface Row {
  serial: string;
  dns: string[];
  ips: string[];
  notAfter: string;
  tokenId: string | null;
  state: string;
  revoked: boolean;
}
interface Page {
  certificates: Row[];
  next: string | null;
}

describe("the inventory: GET /v1/certs pages and filters, certs list streams", () => {
  let ca: TestCa;
  const now = Date.now();
  let token: string;
  const serials = { signed: "", renewed: "", successor: "", revoked: "", expired: "" };
  /** every serial in the inventory, in the inventory's order */
  let everything: { serial: string; notAfter: number }[] = [];

  const get = async (query: string) => {
    const res = await ca.request(`/v1/certs${query}`, { token: ca.adminToken });
    return { res, page: res.status === 200 ? res.json<Page>() : null };
  };
  const serialsOf = (p: Page | null) => (p?.certificates ?? []).map((c) => c.serial);

  before(async () => {
    ca = await startCa({ clock: () => now });
    token = await ca.createToken({ name: "registry", dns: ["**.lan"], ip: ["10.0.0.0/8", "fd00::/8"] });
    // a real issuance: its names are found through the table sign writes
    const csr = makeCsr({ san: ["DNS:Registry.LAN", "IP:fd00::5", "DNS:mirror.lan"] });
    const res = await ca.request("/v1/sign", { body: { csr: csr.csrPem }, token });
    assert.equal(res.status, 201, res.body.toString());
    serials.signed = res.json<IssuedCertificate>().serial;

    // the rest straight into the real store: many rows, and the states sign alone cannot make
    const store = await openTestStore(ca.dataDir);
    try {
      const tokenId = await store.tokens.idOf("registry");
      const record = (over: Partial<CertificateRecord>): CertificateRecord => ({
        serial: randomBytes(16).toString("hex"),
        tokenId: null,
        renewedFrom: null,
        commonName: null,
        dnsNames: [],
        ipAddresses: [],
        notBefore: now - DAY,
        notAfter: now + 30 * DAY,
        keyFingerprint: randomBytes(32).toString("hex"),
        pem: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
        createdAt: now,
        revokedAt: null,
        revocationReason: null,
        ...over,
      });
      // 2,500 rows: more than two pages of the API's largest limit (1,000), and ten of the queries
      // certs list streams with on SQLite (250 rows each)
      for (let i = 0; i < 2500; i++) {
        await store.certificates.insert(
          record({
            dnsNames: [`host-${i}.fleet.lan`],
            ipAddresses: [`10.1.${i >> 8}.${i & 255}`],
            notAfter: now + (i % 90) * DAY + DAY,
          }),
        );
      }
      const renewed = record({ dnsNames: ["renew.lan"], tokenId, notAfter: now + 5 * DAY });
      const successor = record({
        dnsNames: ["renew.lan"],
        tokenId,
        renewedFrom: renewed.serial,
        notAfter: now + 35 * DAY,
      });
      const revoked = record({ dnsNames: ["gone.lan"], revokedAt: now, revocationReason: 1 });
      const expired = record({ dnsNames: ["old.lan"], notBefore: now - 40 * DAY, notAfter: now - 10 * DAY });
      for (const r of [renewed, successor, revoked, expired]) await store.certificates.insert(r);
      Object.assign(serials, {
        renewed: renewed.serial,
        successor: successor.serial,
        revoked: revoked.serial,
        expired: expired.serial,
      });
    } finally {
      await store.close();
    }
    everything = (await sqlRows(
      ca.dataDir,
      'select serial, not_after as "notAfter" from certificates order by not_after, serial',
    )) as { serial: string; notAfter: number }[];
  });
  after(() => ca.close());

  test("pages of `limit` rows, soonest expiry first, each continuing where the last ended, until next is null", async () => {
    const seen: string[] = [];
    let query = "?state=all&limit=1000";
    let pages = 0;
    for (;;) {
      const { res, page } = await get(query);
      assert.equal(res.status, 200, res.body.toString());
      assert.ok(page);
      pages++;
      seen.push(...serialsOf(page));
      if (page.next === null) {
        assert.equal(res.headers.link, undefined, "no Link on the last page");
        break;
      }
      assert.equal(res.headers.link, `</v1/certs?state=all&limit=1000&cursor=${page.next}>; rel="next"`);
      query = `?state=all&limit=1000&cursor=${page.next}`;
    }
    assert.equal(pages, 3);
    assert.deepEqual(
      seen,
      everything.map((r) => r.serial),
      "every row once, in order",
    );
  });

  test("without a limit a page holds 100; without a state, the revoked are left out", async () => {
    const { page } = await get("");
    assert.equal(page?.certificates.length, 100);
    const expected = everything.filter((r) => r.serial !== serials.revoked).slice(0, 100);
    assert.deepEqual(
      serialsOf(page),
      expected.map((r) => r.serial),
    );
  });

  test("by DNS name in any case, by IP in any spelling, by token name, by serial", async () => {
    const byName = await get("?name=REGISTRY.lan");
    assert.deepEqual(serialsOf(byName.page), [serials.signed]);
    assert.deepEqual(byName.page?.certificates[0]?.dns, ["registry.lan", "mirror.lan"]);
    assert.deepEqual(serialsOf((await get("?ip=fd00:0:0::5")).page), [serials.signed]);
    assert.deepEqual(serialsOf((await get("?name=10.1.0.7")).page).length, 1);
    assert.deepEqual(serialsOf((await get("?token=registry&state=all")).page), [
      serials.renewed,
      serials.signed,
      serials.successor,
    ]);
    assert.deepEqual(serialsOf((await get(`?serial=${serials.expired.toUpperCase()}&state=all`)).page), [
      serials.expired,
    ]);
    assert.deepEqual(serialsOf((await get("?name=nowhere.lan")).page), []);
  });

  test("by state: valid, superseded, expired, revoked, and several at once", async () => {
    const states = async (s: string, name: string) =>
      (await get(`?state=${s}&name=${name}`)).page?.certificates;
    assert.deepEqual(
      (await states("superseded", "renew.lan"))?.map((c) => [c.serial, c.state]),
      [[serials.renewed, "superseded"]],
    );
    assert.deepEqual(
      (await states("valid", "renew.lan"))?.map((c) => [c.serial, c.state]),
      [[serials.successor, "valid"]],
    );
    assert.deepEqual(
      (await states("expired", "old.lan"))?.map((c) => c.state),
      ["expired"],
    );
    assert.deepEqual((await states("valid", "old.lan"))?.length, 0);
    const gone = await states("revoked", "gone.lan");
    assert.deepEqual(
      gone?.map((c) => [c.state, c.revoked]),
      [["revoked", true]],
    );
    assert.equal((await states("valid,expired", "gone.lan"))?.length, 0);
    const revokedAll = (await get("?state=revoked")).page;
    assert.deepEqual(serialsOf(revokedAll), [serials.revoked]);
  });

  test("expiring: those that end within the duration, the expired included", async () => {
    const { page } = await get("?expiring=2d&limit=1000");
    const cutoff = now + 2 * DAY;
    const expected = everything.filter((r) => r.notAfter <= cutoff && r.serial !== serials.revoked);
    assert.deepEqual(
      serialsOf(page),
      expected.map((r) => r.serial),
    );
    assert.ok(serialsOf(page).includes(serials.expired));
  });

  test("filters and the cursor work together: a name's pages", async () => {
    const first = await get("?name=renew.lan&state=all&limit=1");
    assert.deepEqual(serialsOf(first.page), [serials.renewed]);
    assert.ok(first.page?.next);
    const second = await get(`?name=renew.lan&state=all&limit=1&cursor=${first.page.next}`);
    assert.deepEqual(serialsOf(second.page), [serials.successor]);
    assert.equal(second.page?.next, null);
  });

  for (const [query, detail] of [
    ["?limit=0", /limit/],
    ["?limit=1001", /limit/],
    ["?limit=ten", /limit/],
    ["?cursor=bm90IGEgY3Vyc29y", /cursor/],
    ["?cursor=..", /cursor/],
    ["?state=lost", /state/],
    ["?name=a.lan&ip=10.0.0.1", /name or ip/],
    ["?ip=registry.lan", /ip/],
    ["?serial=xyz", /serial/],
    ["?expiring=soon", /./],
    ["?token=nobody", /token/],
  ] as const) {
    test(`${query} is a 400 problem saying what is wrong`, async () => {
      const { res } = await get(query);
      assert.equal(res.status, 400, res.body.toString());
      assert.equal(res.headers["content-type"], "application/problem+json");
      assert.match(res.json<{ detail: string }>().detail, detail);
    });
  }

  test("a cursor is opaque but not trusted: one made by hand for a later row starts after it", async () => {
    const mid = everything[1000];
    assert.ok(mid);
    const { page } = await get(`?state=all&limit=3&cursor=${encodeCursor(mid)}`);
    assert.deepEqual(
      serialsOf(page),
      everything.slice(1001, 1004).map((r) => r.serial),
    );
  });

  test("certs list --json streams every row, in the same JSON as before, equal to the API's pages", async () => {
    const r = await caCliAsync(["certs", "list", "--data", ca.dataDir, "--json", "--state", "all"]);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as Row[];
    assert.deepEqual(
      rows.map((c) => c.serial),
      everything.map((e) => e.serial),
    );
    assert.equal(
      r.stdout,
      `${JSON.stringify(rows, null, 2)}\n`,
      "formatted as JSON.stringify(rows, null, 2)",
    );
    // the CLI's rows are printed by SQLite, the API's by certificateView: the same, key for key
    const api: Row[] = [];
    for (let cursor: string | null = ""; cursor !== null; ) {
      const { page } = await get(`?state=all&limit=1000${cursor ? `&cursor=${cursor}` : ""}`);
      assert.ok(page);
      api.push(...page.certificates);
      cursor = page.next;
    }
    assert.equal(
      JSON.stringify(rows),
      JSON.stringify(api),
      "the same keys, in the same order, with the same values",
    );
    const none = await caCliAsync(["certs", "list", "--data", ca.dataDir, "--json", "--name", "nowhere.lan"]);
    assert.equal(none.stdout, "[]\n");
  });

  test("certs list --json | head: a reader that goes away ends the listing quietly, exit 0", async () => {
    const args = ["certs", "list", "--data", ca.dataDir, "--json", "--state", "all"];
    // on the suite's database (SQLite, or PostgreSQL under CERTYARD_TEST_DB), as caCliAsync runs it
    const child = spawn(process.execPath, [CA_BIN, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...caEnv(args) },
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    // the first block read, then the pipe closed: some 1.1 MB were still to be written
    child.stdout.once("data", () => child.stdout.destroy());
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
    assert.equal(stderr, "", "no EPIPE printed");
    assert.deepEqual([code, signal], [0, null]);
  });

  test("certs list: a table with each certificate's state; filters as on the API; bad ones a one-line error", async () => {
    const r = await caCliAsync([
      "certs",
      "list",
      "--data",
      ca.dataDir,
      "--name",
      "renew.lan",
      "--state",
      "all",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines[0], "SERIAL\tNOT_AFTER\tSTATE\tNAMES");
    assert.deepEqual(
      lines.slice(1).map((l) => l.split("\t")[2]),
      ["superseded", "valid"],
    );
    const bad = await caCliAsync(["certs", "list", "--data", ca.dataDir, "--state", "lost"]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, "");
    assert.match(bad.stderr, /^certyard-ca: state: "lost" is not one of/);
    assert.equal(bad.stderr.trimEnd().split("\n").length, 1);
  });
});

describe("migration 0006 finds the certificates issued before it by name", () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("a database at 0005 with certificates gets their names, and its renewed ones are superseded, when the store opens it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "certyard-migrate-"));
    dirs.push(dir);
    // the migrations as they were before 0006, applied by drizzle as an older certyard did
    const migrations = fileURLToPath(new URL("../../../migrations", import.meta.url));
    const old = join(dir, "migrations");
    cpSync(migrations, old, { recursive: true });
    const journalPath = join(old, "meta", "_journal.json");
    const journal = JSON.parse(readFileSync(journalPath, "utf8")) as { entries: { tag: string }[] };
    journal.entries = journal.entries.filter((e) => e.tag < "0006");
    writeFileSync(journalPath, JSON.stringify(journal));
    const path = join(dir, "certyard.db");
    const db = new Database(path);
    migrate(drizzle(db), { migrationsFolder: old });
    db.prepare(
      `insert into certificates (serial, dns_names, ip_addresses, not_before, not_after, key_fingerprint, pem, created_at)
       values ('0a', '["Old.LAN"]', '["10.9.9.9"]', 0, 4102444800000, 'f', 'pem', 0)`,
    ).run();
    db.prepare(
      `insert into certificates (serial, renewed_from, dns_names, ip_addresses, not_before, not_after, key_fingerprint, pem, created_at)
       values ('0b', '0a', '["old.lan"]', '[]', 0, 4102444800001, 'f', 'pem', 0)`,
    ).run();
    assert.equal(
      db.prepare("select count(*) as n from sqlite_master where name = 'certificate_names'").pluck().get(),
      0,
    );
    db.close();

    const store = openStore(path);
    try {
      const find = async (name: string) =>
        (
          await store.certificates.page({ now: 0, states: ["valid", "superseded"], name, limit: 10 })
        ).rows.map((r) => [r.serial, r.state]);
      assert.deepEqual(await find("old.lan"), [
        ["0a", "superseded"],
        ["0b", "valid"],
      ]);
      assert.deepEqual(await find("10.9.9.9"), [["0a", "superseded"]]);
    } finally {
      await store.close();
    }
    // 0017 moved the names into a WITHOUT ROWID table (one b-tree), keeping every row
    const after = new Database(path, { readonly: true });
    try {
      const ddl = after
        .prepare("select sql from sqlite_master where name = 'certificate_names'")
        .pluck()
        .get();
      assert.match(String(ddl), /WITHOUT ROWID/);
      assert.deepEqual(
        after.prepare("select name, serial from certificate_names order by 1, 2").raw().all(),
        [
          ["10.9.9.9", "0a"],
          ["old.lan", "0a"],
          ["old.lan", "0b"],
        ],
      );
    } finally {
      after.close();
    }
  });
});

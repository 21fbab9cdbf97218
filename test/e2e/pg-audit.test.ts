import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { failureAudit } from "../../services/ca/audit/failures.js";
import { parseDbUrl } from "../../services/ca/store/db-url.js";
import type { PgLocation } from "../../services/ca/store/pg/db.js";
import { openPgStore, type PgStore } from "../../services/ca/store/pg/index.js";
import type { IssuedCertificate as Issued } from "../../shared/api.js";
import { httpsRequest } from "../helpers/ca.js";
import { failureTallyCases } from "../helpers/failure-tally-cases.js";
import { makeCsr } from "../helpers/openssl.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { startCaProcessWith } from "./acme-support.js";
import { CA_CLI, type CaProcess, node } from "./support.js";

interface Event {
  id: number;
  type: string;
  actor: { kind: string; id: string };
  subject: string | null;
  details: Record<string, unknown>;
}

/**
 * Issue 18: on PostgreSQL, every change the SQLite store audits is audited too, in the change's
 * own transaction: tokens and EABs created and revoked, certificates issued and revoked, from
 * `serve` over HTTP and from the CLI; `audit verify` says intact, and names an edited row.
 */
describe("the audit trail on a real PostgreSQL", () => {
  let pg: TestPostgres;
  let ca: CaProcess;
  const dir = mkdtempSync(join(tmpdir(), "certyard-e2e-pg-audit-"));
  const data = join(dir, "data");
  let db: string[];
  const cli = (args: string[]) => node(CA_CLI, [...args, "--data", data, ...db]);
  let rootPem: string;
  let adminToken: string;
  let trail: Event[];
  let signed: Issued;
  let byCli: Issued;

  before(async () => {
    pg = await startPostgres();
    db = ["--db", pg.url];
    const init = await cli(["init", "--name", "PG Audit Root CA"]);
    assert.equal(init.code, 0, init.stderr);
    ca = await startCaProcessWith(data, db);
    rootPem = readFileSync(join(data, "root.crt"), "utf8");
    adminToken = readFileSync(join(data, "admin-token"), "utf8").trim();
    const req = (path: string, o: Parameters<typeof httpsRequest>[2]) =>
      httpsRequest(ca.url + path, rootPem, o);

    // over HTTP: a token made by the admin, a certificate through it, revoked by the admin
    const made = await req("/v1/tokens", {
      method: "POST",
      body: { name: "web", dns: ["*.lan"] },
      token: adminToken,
    });
    assert.equal(made.status, 201, made.body.toString());
    const token = made.json<{ token: string }>().token;
    const sign = async (name: string) => {
      const res = await req("/v1/sign", { body: { csr: makeCsr({ san: [`DNS:${name}`] }).csrPem }, token });
      assert.equal(res.status, 201, res.body.toString());
      return res.json<Issued>();
    };
    signed = await sign("a.lan");
    byCli = await sign("b.lan");
    const revoked = await req("/v1/revoke", {
      body: { serial: signed.serial, reason: "superseded" },
      token: adminToken,
    });
    assert.equal(revoked.status, 200, revoked.body.toString());
    // a revocation of what is revoked already changes nothing and writes no event
    const again = await req("/v1/revoke", { body: { serial: signed.serial }, token: adminToken });
    assert.notEqual(again.status, 200);

    // from the CLI, on the same database while serve runs
    for (const args of [
      ["token", "revoke", "web"],
      ["eab", "create", "--name", "lab", "--dns", "*.lan"],
      ["eab", "revoke", "lab"],
      ["revoke", byCli.serial, "--reason", "cessationOfOperation"],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    }
    const list = await cli(["audit", "list", "--json"]);
    assert.equal(list.code, 0, list.stderr);
    trail = JSON.parse(list.stdout) as Event[];
  });
  after(async () => {
    await ca?.stop();
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const find = (type: string, subject: string) => {
    const found = trail.filter((e) => e.type === type && e.subject === subject);
    assert.equal(found.length, 1, `one ${type} ${subject} in ${JSON.stringify(trail, null, 1)}`);
    return found[0] as Event;
  };

  test("token, EAB, issuance and revocation events are written, each once, by whom", () => {
    assert.deepEqual(find("token.created", "web").actor, { kind: "admin", id: "admin" });
    assert.equal(find("token.revoked", "web").actor.kind, "cli");
    assert.equal(find("eab.created", "lab").actor.kind, "cli");
    assert.equal(find("eab.revoked", "lab").actor.kind, "cli");
    assert.deepEqual(find("certificate.issued", signed.serial).actor, { kind: "token", id: "web" });
    const byAdmin = find("certificate.revoked", signed.serial);
    assert.deepEqual(byAdmin.actor, { kind: "admin", id: "admin" });
    assert.deepEqual(byAdmin.details, { reason: "superseded" });
    const revokedByCli = find("certificate.revoked", byCli.serial);
    assert.equal(revokedByCli.actor.kind, "cli");
    assert.deepEqual(revokedByCli.details, { reason: "cessationOfOperation" });
  });

  test("audit verify says intact; an edited row is named, with exit 1", async () => {
    const ok = await cli(["audit", "verify"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`intact: ${trail.length} events`));
    const target = find("token.revoked", "web");
    // the table refuses the edit; only with its trigger off does it go through
    await assert.rejects(
      pg.sql(`update audit_events set actor_id = 'someone else' where id = ${target.id}`),
      /append-only/,
    );
    await pg.sql(
      `alter table audit_events disable trigger audit_events_no_change;
       update audit_events set actor_id = 'someone else' where id = ${target.id};`,
    );
    const bad = await cli(["audit", "verify"]);
    assert.equal(bad.code, 1, bad.stdout);
    assert.match(bad.stderr, new RegExp(`event ${target.id} \\(token\\.revoked\\) was edited`));
  });
});

/**
 * Issue 18, "authentication failures (aggregated, not one row per attempt of a flood)", across
 * processes: the tallies on PostgreSQL with three pools standing for three replicas, and a flood
 * of bad tokens against two `serve --workers 2` on one database (four processes).
 */
describe("failed authentications aggregated across processes on a real PostgreSQL", () => {
  let pg: TestPostgres;
  let loc: PgLocation;
  const dir = mkdtempSync(join(tmpdir(), "certyard-e2e-pg-failures-"));
  before(async () => {
    pg = await startPostgres();
    loc = parseDbUrl(pg.socketUrl, "/nonexistent") as PgLocation;
  });
  after(async () => {
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function threeStores(database: string): Promise<PgStore[]> {
    await pg.sql(`create database ${database}`);
    const at = { ...loc, database } as PgLocation;
    const first = await openPgStore(at, { create: true });
    return [first, await openPgStore(at), await openPgStore(at)];
  }

  test("a flood through three replicas' pools: one event per window, every attempt counted", async () => {
    const stores = await threeStores("flood");
    try {
      await failureTallyCases.floodAcrossProcesses(stores);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test("thirty adds at once from three pools to a new address: one row with every count", async () => {
    const stores = await threeStores("concurrent");
    try {
      await failureTallyCases.concurrentAdds(stores);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test("400 bad tokens against two serve --workers 2: one auth.failed event counting all 400", async () => {
    const data = join(dir, "data");
    const db = ["--db", pg.url];
    const cli = (args: string[]) => node(CA_CLI, [...args, "--data", data, ...db]);
    const init = await cli(["init", "--name", "PG Flood Root CA"]);
    assert.equal(init.code, 0, init.stderr);
    // --workers 2 and --log-level error after startCaProcessWith's own: the last one counts
    const servers = [
      await startCaProcessWith(data, [...db, "--workers", "2", "--log-level", "error"]),
      await startCaProcessWith(data, [...db, "--workers", "2", "--log-level", "error"]),
    ];
    const rootPem = readFileSync(join(data, "root.crt"), "utf8");
    const statuses = new Map<number, number>();
    try {
      const total = 400;
      let next = 0;
      // 16 at a time, each request on a new connection, so that both workers of each serve get some
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < total) {
            const server = servers[next++ % 2] as CaProcess;
            const r = await httpsRequest(`${server.url}/v1/certs`, rootPem, {
              token: `cyt_${"0".repeat(16)}_${"A".repeat(43)}`,
              headers: { connection: "close" },
            });
            statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          }
        }),
      );
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
    assert.deepEqual([...statuses.keys()].sort(), [401, 429], JSON.stringify([...statuses]));
    // every worker added its count at its stop; the window is not over, so no event yet
    const none = await cli(["audit", "list", "--json", "--type", "auth.failed"]);
    assert.deepEqual(JSON.parse(none.stdout), []);
    // a minute on, the next process to sweep (serve does at its start) writes it
    const store = await openPgStore(parseDbUrl(pg.url, data) as PgLocation);
    try {
      const errors: unknown[] = [];
      await failureAudit(store.failureTallies, (e) => errors.push(e)).sweep(Date.now() + 61_000);
      assert.deepEqual(errors, []);
    } finally {
      await store.close();
    }
    const list = await cli(["audit", "list", "--json", "--type", "auth.failed"]);
    assert.equal(list.code, 0, list.stderr);
    const events = JSON.parse(list.stdout) as Event[];
    assert.equal(events.length, 1, JSON.stringify(events, null, 1));
    const e = events[0] as Event;
    assert.deepEqual(e.actor, { kind: "address", id: "127.0.0.1" });
    assert.equal(Number(e.details.failures), statuses.get(401));
    assert.equal(Number(e.details.failures) + Number(e.details.limited), 400);
    const verify = await cli(["audit", "verify"]);
    assert.equal(verify.code, 0, verify.stderr);
  });
});

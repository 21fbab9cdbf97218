import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { revokeSerial, tokenCreate, tokenRevoke } from "../../services/ca/cli/admin-cmds.js";
import { auditList, auditVerify } from "../../services/ca/cli/audit-cmds.js";
import { eabCreate, eabRevoke } from "../../services/ca/cli/eab-cmds.js";
import type { IssuedCertificate as Issued } from "../../shared/api.js";
import { decodePem } from "../../shared/x509/pem.js";
import { startAcmeBed } from "../helpers/acme-bed.js";
import { startCa } from "../helpers/ca.js";
import { makeCsr } from "../helpers/openssl.js";
import { copyOfDb, dataOpts, execOn, initData, onPostgres } from "../helpers/test-db.js";
import { UiClient } from "../helpers/ui-client.js";

interface Event {
  id: number;
  at: string;
  type: string;
  actor: { kind: string; id: string };
  subject: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** `audit list --json`, in process, on a data directory (and another database file, if given). */
async function events(data: string, extra: { since?: string; types?: string[]; db?: string } = {}) {
  let text = "";
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  await auditList({ ...dataOpts(data), json: true, ...extra }, out);
  return JSON.parse(text) as Event[];
}

const work = mkdtempSync(join(tmpdir(), "certyard-audit-"));
after(() => rmSync(work, { recursive: true, force: true }));

describe("the audit trail of a serving CA", () => {
  const data = join(work, "ca");
  let trail: Event[];
  let signed: Issued;
  let renewed: Issued;
  let selfRevoked: Issued;
  let limitedStatuses: number[];

  before(async () => {
    await initData({ data, name: "Audit Root CA", keyType: "ec-p256" });
    // three failures a minute from one address, then 429
    const ca = await startCa({ dataDir: data, failedAuth: { limit: 3, windowMs: 60_000 } });
    try {
      const token = await ca.createToken({ name: "registry", dns: ["*.lan"], maxValidity: "90d" });
      const enrol = async () => {
        const csr = makeCsr({ san: ["DNS:registry.lan"] });
        const res = await ca.request("/v1/sign", { body: { csr: csr.csrPem }, token });
        assert.equal(res.status, 201, res.body.toString());
        return { issued: res.json<Issued>(), keyPem: csr.keyPem };
      };
      const first = await enrol();
      signed = first.issued;
      const res = await ca.request("/v1/renew", {
        method: "POST",
        cert: signed.fullchain,
        key: first.keyPem,
      });
      assert.equal(res.status, 201, res.body.toString());
      renewed = res.json<Issued>();
      // the renewed certificate is revoked by the admin token
      const byAdmin = await ca.request("/v1/revoke", {
        body: { serial: renewed.serial, reason: "superseded" },
        token: ca.adminToken,
      });
      assert.equal(byAdmin.status, 200, byAdmin.body.toString());
      // another revokes itself over mutual TLS
      const other = await enrol();
      selfRevoked = other.issued;
      const self = await ca.request("/v1/revoke", {
        body: { serial: selfRevoked.serial, reason: "keyCompromise" },
        cert: selfRevoked.fullchain,
        key: other.keyPem,
      });
      assert.equal(self.status, 200, self.body.toString());
      // a flood of bad tokens from 127.0.0.1: three 401s, then 429s
      limitedStatuses = [];
      for (let i = 0; i < 6; i++) {
        const bad = await ca.request("/v1/sign", {
          body: { csr: "x" },
          token: `cyt_${"0".repeat(16)}_${"A".repeat(43)}`,
        });
        limitedStatuses.push(bad.status);
      }
      // while serve runs, the CLI: token, EAB, revocation
      await tokenCreate({ ...dataOpts(data), name: "cli-made", dns: ["x.lan"] });
      await tokenRevoke({ ...dataOpts(data), name: "registry" });
      await eabCreate({ ...dataOpts(data), name: "acme-lab", dns: ["*.lan"] });
      await eabRevoke({ ...dataOpts(data), name: "acme-lab" });
      await revokeSerial({ ...dataOpts(data), serial: signed.serial, reason: "cessationOfOperation" });
      // a revocation that fails (already revoked) writes nothing
      await assert.rejects(revokeSerial({ ...dataOpts(data), serial: signed.serial }), /already revoked/);
    } finally {
      // serve adds the failures it counted to the database's tally when it stops
      await ca.close();
    }
    // the tally becomes one event once a window old: written by the next serve that sweeps
    assert.deepEqual(
      (await events(data)).filter((e) => e.type === "auth.failed"),
      [],
    );
    await (await startCa({ dataDir: data, clock: () => Date.now() + 61_000 })).close();
    trail = await events(data);
  });

  const find = (type: string, subject?: string) => {
    const found = trail.filter((e) => e.type === type && (subject === undefined || e.subject === subject));
    assert.equal(found.length, 1, `one ${type} ${subject ?? ""} in ${JSON.stringify(trail, null, 1)}`);
    return found[0] as Event;
  };

  test("token created over HTTP by the admin, revoked by the CLI's user", () => {
    const created = find("token.created", "registry");
    assert.deepEqual(created.actor, { kind: "admin", id: "admin" });
    assert.deepEqual(created.details.dns, ["*.lan"]);
    assert.equal(created.details.maxValidityMs, 90 * 86_400_000);
    const revoked = find("token.revoked", "registry");
    assert.equal(revoked.actor.kind, "cli");
    assert.ok(revoked.actor.id.length > 0);
    assert.equal(find("token.created", "cli-made").actor.kind, "cli");
  });

  test("EAB created and revoked, from the CLI", () => {
    const created = find("eab.created", "acme-lab");
    assert.equal(created.actor.kind, "cli");
    assert.match(String(created.details.kid), /^kid-/);
    assert.equal(find("eab.revoked", "acme-lab").actor.kind, "cli");
  });

  test("issued through a token, renewed by the certificate, revoked by the admin, itself and the CLI", () => {
    const issued = find("certificate.issued", signed.serial);
    assert.deepEqual(issued.actor, { kind: "token", id: "registry" });
    assert.deepEqual(issued.details, { method: "sign", names: ["registry.lan"], notAfter: signed.notAfter });
    const renewal = find("certificate.renewed", renewed.serial);
    assert.deepEqual(renewal.actor, { kind: "certificate", id: signed.serial });
    assert.equal(renewal.details.renewedFrom, signed.serial);
    const byAdmin = find("certificate.revoked", renewed.serial);
    assert.deepEqual(byAdmin.actor, { kind: "admin", id: "admin" });
    assert.deepEqual(byAdmin.details, { reason: "superseded" });
    const bySelf = find("certificate.revoked", selfRevoked.serial);
    assert.deepEqual(bySelf.actor, { kind: "certificate", id: selfRevoked.serial });
    assert.deepEqual(bySelf.details, { reason: "keyCompromise" });
    // the second revocation of `signed` was refused: one event
    const byCli = find("certificate.revoked", signed.serial);
    assert.equal(byCli.actor.kind, "cli");
    assert.deepEqual(byCli.details, { reason: "cessationOfOperation" });
  });

  test("six bad tokens from one address are one event: three failures, three 429s", () => {
    assert.deepEqual(limitedStatuses, [401, 401, 401, 429, 429, 429]);
    const failed = trail.filter((e) => e.type === "auth.failed");
    assert.equal(failed.length, 1, JSON.stringify(failed));
    const e = failed[0] as Event;
    assert.deepEqual(e.actor, { kind: "address", id: "127.0.0.1" });
    assert.equal(e.details.failures, 3);
    assert.equal(e.details.limited, 3);
    assert.deepEqual(e.details.tokens, ["0".repeat(16)]);
  });

  test("events are chained in id order; audit verify says intact; --since and --type filter", async () => {
    trail.forEach((e, i) => {
      assert.equal(e.id, i + 1);
      assert.equal(e.prevHash, i === 0 ? "0".repeat(64) : (trail[i - 1] as Event).hash);
    });
    const v = await auditVerify(dataOpts(data));
    assert.equal(v.code, 0, v.line);
    assert.match(v.line, new RegExp(`intact: ${trail.length} events, head ${trail.at(-1)?.hash}`));
    const revocations = await events(data, { types: ["certificate.revoked"] });
    assert.deepEqual(
      revocations.map((e) => e.subject),
      [renewed.serial, selfRevoked.serial, signed.serial],
    );
    assert.equal((await events(data, { since: "1h" })).length, trail.length);
    await assert.rejects(events(data, { types: ["nonsense"] }), /unknown audit event type "nonsense"/);
  });

  /** A copy of the database, changed by `sql` with the append-only triggers dropped, then verified. */
  async function tampered(name: string, sql: string) {
    const copy = await copyOfDb(data, name);
    await execOn(
      copy,
      onPostgres
        ? "drop trigger audit_events_no_change on audit_events;"
        : "drop trigger audit_events_no_update; drop trigger audit_events_no_delete;",
    );
    await execOn(copy, sql);
    return auditVerify({ data, db: copy });
  }

  test("the table refuses UPDATE and DELETE", async () => {
    const copy = await copyOfDb(data, "triggers");
    await assert.rejects(execOn(copy, "update audit_events set subject = 'x' where id = 1"), /append-only/);
    await assert.rejects(execOn(copy, "delete from audit_events where id = 1"), /append-only/);
  });

  test("audit verify names an edited event", async () => {
    const v = await tampered("edited", "update audit_events set actor_id = 'someone else' where id = 3");
    assert.equal(v.code, 1);
    assert.match(v.line, /event 3 \(.+\) was edited/);
    const details = await tampered(
      "edited-details",
      `update audit_events set details = '{"reason":"unspecified"}' where type = 'certificate.revoked'`,
    );
    assert.equal(details.code, 1);
    assert.match(details.line, /was edited/);
  });

  test("audit verify names a deleted event, in the middle, first, or at the end", async () => {
    const middle = await tampered("deleted", "delete from audit_events where id = 4");
    assert.equal(middle.code, 1);
    assert.match(middle.line, /event 4 was deleted \(event 5 follows event 3\)/);
    const first = await tampered("deleted-first", "delete from audit_events where id = 1");
    assert.match(first.line, /event 1 was deleted/);
    const last = trail.length;
    const tail = await tampered("deleted-tail", `delete from audit_events where id = ${last}`);
    assert.equal(tail.code, 1);
    assert.match(tail.line, new RegExp(`event ${last}, the last one, was deleted`));
    // a deletion whose ids were closed up again is still found: the next event follows a hash not there
    const renumbered = await tampered(
      "renumbered",
      "delete from audit_events where id = 4; update audit_events set id = id - 1 where id > 4;",
    );
    assert.equal(renumbered.code, 1);
    assert.match(renumbered.line, /before event 4 .* was deleted or replaced/);
  });

  test("audit verify names a reordered event", async () => {
    // rows 2 and 3 exchange everything but their ids
    const cols = "at, type, actor_kind, actor_id, subject, details, prev_hash, hash";
    const v = await tampered(
      "reordered",
      `create temp table t as select * from audit_events where id in (2, 3);
       update audit_events set (${cols}) = (select ${cols} from t where t.id = 3) where id = 2;
       update audit_events set (${cols}) = (select ${cols} from t where t.id = 2) where id = 3;`,
    );
    assert.equal(v.code, 1);
    assert.match(v.line, /event 2 \(.+\) is out of order: it follows event 3, not event 1/);
  });
});

test("concurrent signs share group commits and every one is chained; a refused one writes no event", async () => {
  const ca = await startCa();
  try {
    const token = await ca.createToken({ name: "burst", dns: ["*.lan"], uses: 12 });
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        ca.request("/v1/sign", { body: { csr: makeCsr({ san: [`DNS:h${i}.lan`] }).csrPem }, token }),
      ),
    );
    const ok = results.filter((r) => r.status === 201).map((r) => r.json<Issued>().serial);
    assert.equal(ok.length, 12);
    const issued = await events(ca.dataDir, { types: ["certificate.issued"] });
    // the CA's own serving certificate is the first issuance
    assert.deepEqual(issued[0]?.actor, { kind: "ca", id: "serving certificate" });
    assert.deepEqual(
      issued
        .filter((e) => e.actor.kind === "token")
        .map((e) => e.subject)
        .sort(),
      [...ok].sort(),
    );
    const v = await auditVerify({ ...ca.data });
    assert.equal(v.code, 0, v.line);
  } finally {
    await ca.close();
  }
});

test("an ACME issuance and revocation name the account", async () => {
  const bed = await startAcmeBed({ eab: { name: "lab", ip: ["127.0.0.0/8"] } });
  try {
    const client = await bed.newClient();
    const csr = makeCsr({ san: ["IP:127.0.0.1"] });
    const der = decodePem(csr.csrPem)[0]?.der ?? new Uint8Array();
    const { leafDer } = await client.issue({ type: "ip", value: "127.0.0.1" }, der, (token, keyAuth) =>
      bed.responder.answers.set(token, keyAuth),
    );
    const revoke = await client.post(client.url("revokeCert"), {
      certificate: Buffer.from(leafDer).toString("base64url"),
    });
    assert.equal(revoke.status, 200, revoke.body.toString());
    const accountId = client.accountUrl.split("/").at(-1);
    const trail = await events(bed.ca.dataDir);
    const issued = trail.filter((e) => e.type === "certificate.issued" && e.actor.kind === "acme-account");
    assert.equal(issued.length, 1);
    assert.deepEqual(issued[0]?.actor, { kind: "acme-account", id: accountId });
    assert.deepEqual(issued[0]?.details.names, ["127.0.0.1"]);
    const revoked = trail.filter((e) => e.type === "certificate.revoked");
    assert.equal(revoked.length, 1);
    assert.equal(revoked[0]?.subject, issued[0]?.subject);
    assert.deepEqual(revoked[0]?.actor, { kind: "acme-account", id: accountId });
  } finally {
    await bed.close();
  }
});

test("the dashboard: login, a token created and revoked, a certificate revoked and logout name the session", async () => {
  const ca = await startCa();
  try {
    const token = await ca.createToken({ name: "web", dns: ["*.lan"] });
    const res = await ca.request("/v1/sign", {
      body: { csr: makeCsr({ san: ["DNS:web.lan"] }).csrPem },
      token,
    });
    const serial = res.json<Issued>().serial;
    const ui = new UiClient(ca);
    assert.equal((await ui.login(ca.adminToken)).status, 303);
    const idHash = createHash("sha256")
      .update(ui.cookies.get("cy_session") ?? "")
      .digest("hex");
    const session = { kind: "session", id: idHash.slice(0, 12) };
    const created = await ui.post("/ui/tokens", { name: "from-ui", dns: "x.lan", csrf: await ui.csrf() });
    assert.equal(created.status, 201, created.body.toString());
    await ui.post("/ui/tokens/revoke", { name: "from-ui", csrf: await ui.csrf() });
    await ui.post(`/ui/certificates/${serial}/revoke`, { reason: "superseded", csrf: await ui.csrf() });
    assert.equal((await ui.post("/ui/logout", { csrf: await ui.csrf() })).status, 303);
    const trail = (await events(ca.dataDir)).filter((e) => e.actor.kind === "session");
    assert.deepEqual(
      trail.map((e) => [e.type, e.subject]),
      [
        ["dashboard.login", null],
        ["token.created", "from-ui"],
        ["token.revoked", "from-ui"],
        ["certificate.revoked", serial],
        ["dashboard.logout", null],
      ],
    );
    for (const e of trail) assert.deepEqual(e.actor, session);
    assert.deepEqual(trail[0]?.details, { address: "127.0.0.1" });
  } finally {
    await ca.close();
  }
});

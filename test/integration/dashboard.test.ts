import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { IssuedCertificate } from "../../shared/api.js";
import { certificatesFromPem, fingerprint } from "../../shared/x509/pem.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { makeCsr } from "../helpers/openssl.js";
import { sqlRows } from "../helpers/test-db.js";
import { csrfIn, setCookies, UiClient } from "../helpers/ui-client.js";

const HOUR = 3_600_000;

/** Issue 18, the dashboard: login, its cookie, CSRF, session expiry, logout, search, revoke, tokens. */
describe("dashboard (/ui/) over HTTPS", () => {
  let ca: TestCa;
  let offset = 0;
  let token: string;
  const serials: Record<string, string> = {};

  before(async () => {
    ca = await startCa({ clock: () => Date.now() + offset, failedAuth: { limit: 4, windowMs: 60_000 } });
    token = await ca.createToken({ name: "web-hosts", dns: ["*.lan"], ip: ["10.1.0.0/16"] });
    for (const [key, san] of [
      ["registry", ["DNS:registry.lan", "IP:10.1.2.3"]],
      ["mirror", ["DNS:mirror.lan"]],
    ] as const) {
      const res = await ca.request("/v1/sign", { body: { csr: makeCsr({ san: [...san] }).csrPem }, token });
      assert.equal(res.status, 201, res.body.toString());
      serials[key] = res.json<{ serial: string }>().serial;
    }
  });
  after(() => ca.close());

  const sessionRows = async () => {
    return (await sqlRows(ca.dataDir, "select id_hash, expires_at, last_seen from ui_sessions")) as {
      id_hash: string;
      expires_at: number;
      last_seen: number;
    }[];
  };

  test("a page without a session goes to the login form, whose input name=token takes the admin token", async () => {
    const ui = new UiClient(ca);
    const res = await ui.get("/ui/");
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, "/ui/login");
    const form = await ui.get("/ui/login");
    assert.equal(form.status, 200);
    assert.match(form.body.toString(), /<input type="password" name="token"/);
    assert.match(String(form.headers["content-security-policy"]), /default-src 'none'/);
    assert.equal((await ui.get("/ui/certificates?q=registry.lan")).status, 303);
  });

  test("login: a session cookie HttpOnly, Secure, SameSite=Strict, Path=/ui, stored only as its SHA-256", async () => {
    const ui = new UiClient(ca);
    const res = await ui.login(ca.adminToken);
    assert.equal(res.status, 303, res.body.toString());
    assert.equal(res.headers.location, "/ui/");
    const cookie = setCookies(res).find((c) => c.startsWith("cy_session="));
    assert.ok(cookie, "a session cookie is set");
    for (const flag of [/;\s*HttpOnly/i, /;\s*Secure/i, /;\s*SameSite=Strict/i, /;\s*Path=\/ui(;|$)/i])
      assert.match(cookie, flag);
    const secret = ui.cookies.get("cy_session") ?? "";
    assert.ok(secret.length >= 43);
    const rows = await sessionRows();
    assert.ok(rows.some((r) => r.id_hash === createHash("sha256").update(secret).digest("hex")));
    assert.ok(!rows.some((r) => r.id_hash.includes(secret)));
    const overview = await ui.get("/ui/");
    assert.equal(overview.status, 200);
    const page = overview.body.toString();
    // the timeline: one bar per day for 90 days; the two certificates and the CA's own TLS one
    assert.equal((page.match(/<rect class="bar"/g) ?? []).length, 90);
    const counted = [...page.matchAll(/data-count="(\d+)"/g)].reduce((n, m) => n + Number(m[1]), 0);
    assert.equal(counted, 3);
    assert.match(page, /data-state="valid"><span class="state-valid">valid<\/span><b>3<\/b>/);
    assert.match(page, /intermediate/);
    assert.match(page, /CRL/);
  });

  test("a wrong token is refused with 401 and counts toward the failed-authentication limit: then 429 even for the right one", async () => {
    const ui = new UiClient(ca);
    const wrong = await ui.login(`${ca.adminToken.slice(0, -4)}AAAA`);
    assert.equal(wrong.status, 401);
    assert.match(wrong.body.toString(), /not the admin token/);
    assert.equal(setCookies(wrong).filter((c) => c.startsWith("cy_session=")).length, 0);
    for (let i = 0; i < 3; i++) assert.equal((await ui.login("cya_nonsense_token")).status, 401);
    const limited = await ui.login(ca.adminToken);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers["retry-after"]) > 0);
    offset += 61_000; // the limiter's window passes
  });

  test("CSRF: a form without the token, with another session's, or from another origin is refused; the login form too", async () => {
    const ui = new UiClient(ca);
    assert.equal((await ui.login(ca.adminToken)).status, 303);
    const other = new UiClient(ca);
    assert.equal((await other.login(ca.adminToken)).status, 303);
    const fields = { name: "csrf-probe", dns: "probe.lan" };
    assert.equal((await ui.post("/ui/tokens", fields)).status, 403);
    assert.equal((await ui.post("/ui/tokens", { ...fields, csrf: await other.csrf() })).status, 403);
    const csrf = await ui.csrf();
    assert.equal(
      (await ui.post("/ui/tokens", { ...fields, csrf }, { origin: "https://evil.example" })).status,
      403,
    );
    assert.equal(
      (await ui.post("/ui/tokens", { ...fields, csrf }, { "sec-fetch-site": "cross-site" })).status,
      403,
    );
    const list = await ui.get("/ui/tokens");
    assert.doesNotMatch(list.body.toString(), /csrf-probe/, "nothing was created");
    // the login form's token is bound to the login cookie
    const fresh = new UiClient(ca);
    await fresh.get("/ui/login");
    const res = await fresh.post("/ui/login", {
      token: ca.adminToken,
      csrf: csrfIn(await ui.get("/ui/login")),
    });
    assert.equal(res.status, 403);
  });

  test("tokens: created with their policy, the join string shown once, revoked", async () => {
    const ui = new UiClient(ca);
    await ui.login(ca.adminToken);
    const created = await ui.post("/ui/tokens", {
      name: "from-ui",
      dns: "ui-host.lan, *.ui.lan",
      ip: "",
      maxValidity: "7d",
      join: "on",
      csrf: await ui.csrf(),
    });
    assert.equal(created.status, 201, created.body.toString());
    const join = /<pre id="secret">(cyj1_[A-Za-z0-9_-]+)<\/pre>/.exec(created.body.toString())?.[1];
    assert.ok(join, "the join string is on the page");
    const decoded = JSON.parse(Buffer.from(join.slice(5), "base64url").toString()) as {
      token: string;
      url: string;
    };
    assert.equal(decoded.url, ca.url.replace(/:\d+$/, ":0"));
    const sign = (san: string) =>
      ca.request("/v1/sign", { body: { csr: makeCsr({ san: [san] }).csrPem }, token: decoded.token });
    assert.equal((await sign("DNS:other.lan")).status, 403, "its policy holds");
    assert.equal((await sign("DNS:ui-host.lan")).status, 201);
    assert.equal((await sign("DNS:ui-host.lan")).status, 401, "a join string's token has one use");
    const again = await ui.get("/ui/tokens");
    assert.doesNotMatch(again.body.toString(), /cyj1_|cyt_/, "the secret is not shown again");

    const plain = await ui.post("/ui/tokens", { name: "to-revoke", dns: "gone.lan", csrf: await ui.csrf() });
    const secret = /<pre id="secret">([^<]+)<\/pre>/.exec(plain.body.toString())?.[1] ?? "";
    const revoked = await ui.post("/ui/tokens/revoke", { name: "to-revoke", csrf: await ui.csrf() });
    assert.equal(revoked.status, 303);
    const res = await ca.request("/v1/sign", {
      body: { csr: makeCsr({ san: ["DNS:gone.lan"] }).csrPem },
      token: secret,
    });
    assert.equal(res.status, 401);
    assert.match(
      (await ui.get("/ui/tokens")).body.toString(),
      /data-token="to-revoke"><td>[^\n]*<\/td><td class="token-state">revoked/,
    );
    const bad = await ui.post("/ui/tokens", { name: "bad name!", csrf: await ui.csrf() });
    assert.equal(bad.status, 400);
  });

  test("EABs: created (the HMAC key shown once), listed, revoked", async () => {
    const ui = new UiClient(ca);
    await ui.login(ca.adminToken);
    const created = await ui.post("/ui/eabs", {
      name: "acme-ui",
      dns: "*.lan",
      accounts: "2",
      csrf: await ui.csrf("/ui/eabs"),
    });
    assert.equal(created.status, 201, created.body.toString());
    assert.match(created.body.toString(), /--eab-kid kid-[A-Za-z0-9_-]+ --eab-hmac-key [A-Za-z0-9_-]{43}/);
    const list = (await ui.get("/ui/eabs")).body.toString();
    assert.match(list, /data-eab="acme-ui"/);
    assert.doesNotMatch(list, /--eab-hmac-key/);
    assert.equal(
      (await ui.post("/ui/eabs/revoke", { name: "acme-ui", csrf: await ui.csrf("/ui/eabs") })).status,
      303,
    );
    assert.match((await ui.get("/ui/eabs")).body.toString(), /data-eab="acme-ui">.*<td>revoked<\/td>/s);
  });

  test("search by name, IP, serial and token; a detail page with its requester, PEM download; revoke with a confirm step", async () => {
    const ui = new UiClient(ca);
    await ui.login(ca.adminToken);
    const found = async (q: string) => {
      const res = await ui.get(`/ui/certificates?q=${encodeURIComponent(q)}`);
      assert.equal(res.status, 200);
      const body = res.body.toString();
      return {
        kind: /id="search-kind">Searched as ([a-zA-Z ]+):/.exec(body)?.[1],
        serials: [...body.matchAll(/data-serial="([0-9a-f]+)"/g)].map((m) => m[1]),
      };
    };
    assert.deepEqual(await found("REGISTRY.lan"), { kind: "name", serials: [serials.registry] });
    assert.deepEqual(await found("10.1.2.3"), { kind: "IP address", serials: [serials.registry] });
    assert.deepEqual(await found(serials.mirror ?? ""), { kind: "serial", serials: [serials.mirror] });
    assert.deepEqual((await found("web-hosts")).kind, "token");
    assert.deepEqual(
      new Set((await found("web-hosts")).serials),
      new Set([serials.registry, serials.mirror]),
    );
    assert.deepEqual((await found("nothing.lan")).serials, []);

    const detail = (await ui.get(`/ui/certificates/${serials.registry}`)).body.toString();
    assert.match(detail, /token <a [^>]*>web-hosts<\/a>/);
    assert.match(detail, /registry\.lan/);
    const pem = await ui.get(`/ui/certificates/${serials.registry}/pem`);
    assert.equal(pem.status, 200);
    assert.equal(
      (pem.body.toString().match(/BEGIN CERTIFICATE/g) ?? []).length,
      2,
      "the leaf and the intermediate",
    );

    const confirm = await ui.get(`/ui/certificates/${serials.registry}/revoke`);
    assert.match(confirm.body.toString(), /cannot be undone/);
    const done = await ui.post(`/ui/certificates/${serials.registry}/revoke`, {
      reason: "keyCompromise",
      csrf: csrfIn(confirm),
    });
    assert.equal(done.status, 303);
    assert.match(
      (await ui.get(String(done.headers.location))).body.toString(),
      /id="cert-state" class="state-revoked">revoked/,
    );
    const api = await ca.request("/v1/certs?state=revoked", { token: ca.adminToken });
    assert.deepEqual(
      api.json<{ certificates: { serial: string }[] }>().certificates.map((c) => c.serial),
      [serials.registry],
    );
    assert.equal(
      (await found("registry.lan")).serials.length,
      0,
      "the default search leaves out the revoked",
    );
    const all = await ui.get("/ui/certificates?q=registry.lan&state=revoked");
    assert.match(all.body.toString(), new RegExp(`data-serial="${serials.registry}"`));
  });

  test("audit: the trail with the logins and a revocation done here, filtered by type, actor and since, paged; bad filters are 400", async () => {
    const ui = new UiClient(ca);
    await ui.login(ca.adminToken);
    const confirm = await ui.get(`/ui/certificates/${serials.mirror}/revoke`);
    const done = await ui.post(`/ui/certificates/${serials.mirror}/revoke`, {
      reason: "superseded",
      csrf: csrfIn(confirm),
    });
    assert.equal(done.status, 303);
    const rows = async (query: string) => {
      const res = await ui.get(`/ui/audit${query}`);
      assert.equal(res.status, 200, res.body.toString());
      return [
        ...res.body
          .toString()
          .matchAll(
            /<tr data-type="([a-z.]+)" data-id="(\d+)"><td>\d+<\/td><td>[^<]*<\/td><td>[^<]*<\/td><td>([^<]*)<\/td><td>([^<]*)<\/td>/g,
          ),
      ].map((m) => ({ type: m[1] ?? "", id: Number(m[2]), actor: m[3] ?? "", subject: m[4] ?? "" }));
    };
    const page = (await ui.get("/ui/")).body.toString();
    assert.match(page, /<a href="\/ui\/audit">Audit<\/a>/, "the nav links the audit page");
    const every = await rows("");
    assert.ok(every.some((e) => e.type === "dashboard.login"));
    assert.ok(every.some((e) => e.type === "certificate.issued"));
    const revoked = await rows("?type=certificate.revoked");
    assert.ok(revoked.length >= 1);
    assert.ok(revoked.every((e) => e.type === "certificate.revoked"));
    const mine = revoked.find((e) => e.subject === serials.mirror);
    assert.ok(mine, "the revocation done in this test");
    assert.match(mine.actor, /^session:[0-9a-f]{12}$/);
    // by actor: that session's events only; by kind: every session's
    const bySession = await rows(`?actor=${encodeURIComponent(mine.actor)}`);
    assert.ok(bySession.length >= 1 && bySession.every((e) => e.actor === mine.actor));
    assert.ok((await rows("?actor=session")).every((e) => e.actor.startsWith("session:")));
    assert.deepEqual(await rows("?since=1h&type=certificate.revoked"), revoked);
    // paged after an id: only later events
    const afterFirst = await rows(`?after=${every[0]?.id}`);
    assert.deepEqual(
      afterFirst.map((e) => e.id),
      every.slice(1).map((e) => e.id),
    );
    for (const bad of ["?type=nope", "?actor=nobody", "?since=soon", "?after=x"]) {
      assert.equal((await ui.get(`/ui/audit${bad}`)).status, 400, bad);
    }
  });

  test("hosts: the reports' table, a drifting host on the overview, and search by host", async () => {
    const ui = new UiClient(ca);
    await ui.login(ca.adminToken);
    assert.match((await ui.get("/ui/hosts")).body.toString(), /id="no-hosts"/);
    const hostToken = await ca.createToken({ name: "fleet", dns: ["fleet.lan"] });
    const csr = makeCsr({ san: ["DNS:fleet.lan"] });
    const res = await ca.request("/v1/sign", { body: { csr: csr.csrPem }, token: hostToken });
    const issued = res.json<IssuedCertificate>();
    const sha = (pem: string) => fingerprint(certificatesFromPem(pem)[0] ?? Buffer.alloc(0));
    const report = (servedSha256: string) =>
      ca.request("/v1/hosts/report", {
        body: { name: "fleet", host: "node-7", servedSha256 },
        cert: issued.fullchain,
        key: csr.keyPem,
      });
    assert.equal((await report(sha(issued.certificate))).status, 204);
    const hosts = (await ui.get("/ui/hosts")).body.toString();
    assert.match(hosts, /data-host="fleet@node-7"/);
    assert.match(hosts, /the newest/);
    assert.doesNotMatch((await ui.get("/ui/")).body.toString(), /data-kind="host-drift"/);
    // a host serving something else than the newest certificate for its names
    assert.equal((await report("ab".repeat(32))).status, 204);
    assert.match((await ui.get("/ui/hosts")).body.toString(), /<b>drift<\/b>/);
    assert.match(
      (await ui.get("/ui/")).body.toString(),
      /<li data-kind="host-drift">fleet@node-7 serves abab/,
    );
    const found = (await ui.get("/ui/certificates?q=node-7")).body.toString();
    assert.match(found, /Searched as host: node-7/);
    assert.match(found, new RegExp(`data-serial="${issued.serial}"`));
  });

  test("bad input: an unknown serial is 404, a malformed one 400, as a page for browsers and problem+json otherwise", async () => {
    const ui = new UiClient(ca);
    await ui.login(ca.adminToken);
    assert.equal((await ui.get("/ui/certificates/abcdef0123")).status, 404);
    const bad = await ui.get("/ui/certificates/not-hex");
    assert.equal(bad.status, 400);
    assert.match(String(bad.headers["content-type"]), /text\/html/);
    const cookie = [...ui.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const json = await ca.request("/ui/certificates/not-hex", { headers: { cookie } });
    assert.equal(json.status, 400);
    assert.equal(json.headers["content-type"], "application/problem+json");
    assert.equal((await ui.get("/ui/certificates?state=bogus")).status, 400);
  });

  test("a session ends after 2 h idle, and 12 h after login however busy; logout ends it at once", async () => {
    const idle = new UiClient(ca);
    await idle.login(ca.adminToken);
    offset += 2 * HOUR - 60_000;
    assert.equal((await idle.get("/ui/")).status, 200, "still within the idle time");
    offset += 2 * HOUR - 60_000;
    assert.equal((await idle.get("/ui/")).status, 200, "each request renews the idle time");
    offset += 2 * HOUR + 1000;
    const ended = await idle.get("/ui/");
    assert.equal(ended.status, 303);
    assert.equal(ended.headers.location, "/ui/login");

    const busy = new UiClient(ca);
    await busy.login(ca.adminToken);
    for (let h = 0; h < 11; h++) {
      offset += HOUR;
      assert.equal((await busy.get("/ui/")).status, 200);
    }
    offset += HOUR;
    assert.equal((await busy.get("/ui/")).status, 303, "12 h after login");

    const out = new UiClient(ca);
    await out.login(ca.adminToken);
    const secret = out.cookies.get("cy_session") ?? "";
    const before = (await sessionRows()).length;
    const res = await out.post("/ui/logout", { csrf: await out.csrf() });
    assert.equal(res.status, 303);
    assert.ok(setCookies(res).some((c) => /^cy_session=;/.test(c) && /max-age=0/i.test(c)));
    assert.equal((await sessionRows()).length, before - 1);
    out.cookies.set("cy_session", secret);
    assert.equal((await out.get("/ui/")).status, 303, "the old cookie opens nothing");
    assert.equal((await out.post("/ui/logout", { csrf: "x" })).status, 401);
  });
});

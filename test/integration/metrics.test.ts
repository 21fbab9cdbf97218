import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { IssuedCertificate as Issued } from "../../shared/api.js";
import { httpsRequest, startCa, type TestCa } from "../helpers/ca.js";
import { caCliAsync, type ServeProcess, serveProcess } from "../helpers/ca-process.js";
import { makeCsr } from "../helpers/openssl.js";
import { parseExposition, type Sample, sampleValue } from "../helpers/prometheus.js";

const DAY = 86_400_000;

/** GET over plain HTTP (serve --metrics-listen). */
function httpGet(url: string, method = "GET"): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("GET /metrics on the HTTPS port", () => {
  let ca: TestCa;
  let token: string;
  let offset = 0;
  before(async () => {
    ca = await startCa({ clock: () => Date.now() + offset });
    token = await ca.createToken({ name: "host", dns: ["registry.lan", "*.lan"], maxValidity: "90d" });
  });
  after(() => ca.close());

  const scrape = async (): Promise<Sample[]> => {
    const res = await ca.request("/metrics", { token: ca.adminToken });
    assert.equal(res.status, 200, res.body.toString());
    assert.match(String(res.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
    return parseExposition(res.body.toString()).samples;
  };
  const sign = async (name: string, validity: string) => {
    const csr = makeCsr({ san: [`DNS:${name}`] });
    const res = await ca.request("/v1/sign", { body: { csr: csr.csrPem, validity }, token });
    assert.equal(res.status, 201, res.body.toString());
    return { issued: res.json<Issued>(), keyPem: csr.keyPem };
  };

  test("needs the admin token: none is 401, an enrolment token is refused and counted", async () => {
    const none = await ca.request("/metrics");
    assert.equal(none.status, 401);
    assert.match(String(none.headers["content-type"]), /application\/problem\+json/);
    const before = sampleValue(await scrape(), "certyard_auth_failures_total") ?? Number.NaN;
    const wrong = await ca.request("/metrics", { token });
    assert.equal(wrong.status, 401);
    const bad = await ca.request("/v1/sign", { body: { csr: "x" }, token: "cy_not-a-token" });
    assert.equal(bad.status, 401);
    assert.equal(sampleValue(await scrape(), "certyard_auth_failures_total"), before + 2);
  });

  test("counts issuance by method, requests by route pattern and code, and their durations", async () => {
    const first = await scrape();
    for (const method of ["sign", "renew", "acme"])
      assert.equal(sampleValue(first, "certyard_certificates_issued_total", { method }), 0, method);
    const { issued, keyPem } = await sign("a.lan", "30d");
    const renewed = await ca.request("/v1/renew", { body: {}, cert: issued.fullchain, key: keyPem });
    assert.equal(renewed.status, 201, renewed.body.toString());
    // a route with a parameter is counted under its pattern, not its path
    const crl = await ca.request("/crl/00ff");
    assert.equal(crl.status, 404);
    assert.equal((await ca.request("/no/such/path")).status, 404);
    const s = await scrape();
    assert.equal(sampleValue(s, "certyard_certificates_issued_total", { method: "sign" }), 1);
    assert.equal(sampleValue(s, "certyard_certificates_issued_total", { method: "renew" }), 1);
    assert.equal(sampleValue(s, "certyard_requests_total", { route: "/v1/sign", code: "201" }), 1);
    assert.equal(sampleValue(s, "certyard_requests_total", { route: "/v1/renew", code: "201" }), 1);
    assert.equal(sampleValue(s, "certyard_requests_total", { route: "/crl/:keyId", code: "404" }), 1);
    assert.equal(sampleValue(s, "certyard_requests_total", { route: "unmatched", code: "404" }), 1);
    const routes = new Set(s.filter((x) => x.name === "certyard_requests_total").map((x) => x.labels.route));
    assert.ok(![...routes].some((r) => r?.includes("00ff") || r === "/no/such/path"), [...routes].join(" "));
    // the durations of every answer: the refused sign of the test before, and this one
    const count = (x: Sample[]) =>
      sampleValue(x, "certyard_request_duration_seconds_count", { route: "/v1/sign" });
    assert.equal(count(s), (count(first) ?? Number.NaN) + 1);
    const inf = sampleValue(s, "certyard_request_duration_seconds_bucket", { route: "/v1/sign", le: "+Inf" });
    assert.equal(inf, count(s));
    assert.ok((sampleValue(s, "certyard_request_duration_seconds_sum", { route: "/v1/sign" }) ?? 0) > 0);
  });

  test("gauges: certificates by state and expiring, the CA's certificates, the CRL; no series per certificate", async () => {
    // a.lan (superseded by its renewal, 30 d) from the test before; now one for 5 days, one for 60
    await sign("b.lan", "5d");
    await sign("c.lan", "60d");
    const { issued } = await sign("d.lan", "60d");
    const revoked = await ca.request("/v1/revoke", {
      body: { serial: issued.serial },
      token: ca.adminToken,
    });
    assert.equal(revoked.status, 200, revoked.body.toString());
    assert.equal((await ca.request("/crl")).status, 200);
    // the gauges are cached for a few seconds: step the CA's clock past that
    offset += 60_000;
    let s = await scrape();
    const state = (st: string) => sampleValue(s, "certyard_certificates", { state: st });
    assert.deepEqual(
      ["valid", "superseded", "expired", "revoked"].map(state),
      // serve's own TLS certificate, the renewal of a.lan, b.lan, c.lan; a.lan; none; d.lan
      [4, 1, 0, 1],
    );
    assert.equal(sampleValue(s, "certyard_certificates_expiring", { within: "7d" }), 1);
    // serve's own (30 days), the renewal of a.lan, b.lan
    assert.equal(sampleValue(s, "certyard_certificates_expiring", { within: "30d" }), 3);
    const root = new X509Certificate(readFileSync(join(ca.dataDir, "root.crt")));
    const intermediate = new X509Certificate(readFileSync(join(ca.dataDir, "intermediate.crt")));
    assert.equal(
      sampleValue(s, "certyard_ca_certificate_expiry_timestamp_seconds", { ca: "root" }),
      root.validToDate.getTime() / 1000,
    );
    assert.equal(
      sampleValue(s, "certyard_ca_certificate_expiry_timestamp_seconds", { ca: "intermediate" }),
      intermediate.validToDate.getTime() / 1000,
    );
    const nextUpdate = sampleValue(s, "certyard_crl_next_update_timestamp_seconds") ?? 0;
    assert.ok(
      nextUpdate * 1000 > Date.now() && nextUpdate * 1000 <= Date.now() + 2 * DAY,
      String(nextUpdate),
    );
    // no label carries a serial or a name of a certificate
    for (const x of s)
      for (const v of Object.values(x.labels)) assert.doesNotMatch(v, /[0-9a-f]{16}|\.lan/, `${x.name} ${v}`);

    // 6 days on, b.lan has expired; serve's own and the renewal of a.lan are within 30 days
    offset += 6 * DAY;
    s = await scrape();
    assert.deepEqual(["valid", "superseded", "expired", "revoked"].map(state), [3, 1, 1, 1]);
    assert.equal(sampleValue(s, "certyard_certificates_expiring", { within: "7d" }), 0);
    assert.equal(sampleValue(s, "certyard_certificates_expiring", { within: "30d" }), 2);
  });
  test("hosts: each reporting host's certificate expiry, and drift when it serves an older one", async () => {
    const older = await sign("web.lan", "30d");
    await sign("web.lan", "30d"); // now the newest for web.lan
    const der = new X509Certificate(older.issued.certificate).raw;
    const res = await ca.request("/v1/hosts/report", {
      body: { name: "web", host: "h1", servedSha256: createHash("sha256").update(der).digest("hex") },
      cert: older.issued.fullchain,
      key: older.keyPem,
    });
    assert.equal(res.status, 204, res.body.toString());
    offset += 60_000;
    const s = await scrape();
    const labels = { host: "h1", name: "web" };
    assert.equal(
      sampleValue(s, "certyard_host_certificate_expiry_timestamp_seconds", labels),
      Date.parse(older.issued.notAfter) / 1000,
    );
    assert.equal(sampleValue(s, "certyard_host_drift", labels), 1);
    // serving the newest: no drift
    const newest = await sign("web.lan", "30d");
    const served = createHash("sha256")
      .update(new X509Certificate(newest.issued.certificate).raw)
      .digest("hex");
    const again = await ca.request("/v1/hosts/report", {
      body: { name: "web", host: "h1", servedSha256: served },
      cert: newest.issued.fullchain,
      key: newest.keyPem,
    });
    assert.equal(again.status, 204, again.body.toString());
    offset += 60_000;
    const t = await scrape();
    assert.equal(sampleValue(t, "certyard_host_drift", labels), 0);
    assert.equal(
      sampleValue(t, "certyard_host_certificate_expiry_timestamp_seconds", labels),
      Date.parse(newest.issued.notAfter) / 1000,
    );
  });
});

describe("serve --metrics-listen with two workers", () => {
  let data: string;
  let serve: ServeProcess;
  let metricsUrl: string;
  before(async () => {
    data = mkdtempSync(join(tmpdir(), "certyard-metrics-"));
    serve = await serveProcess(data, ["--workers", "2", "--metrics-listen", "127.0.0.1:0"]);
    const m = /^metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m.exec(serve.announced);
    assert.ok(m?.[1], serve.announced);
    metricsUrl = m[1];
  });
  after(async () => {
    await serve.stop();
    rmSync(data, { recursive: true, force: true });
  });

  test("answers without authentication for the whole process tree, as the HTTPS port does with the admin token", async () => {
    const rootPem = readFileSync(join(data, "root.crt"), "utf8");
    const adminToken = readFileSync(join(data, "admin-token"), "utf8").trim();
    const https = (path: string, o: Parameters<typeof httpsRequest>[2] = {}) =>
      httpsRequest(serve.url + path, rootPem, o);
    const created = await https("/v1/tokens", {
      body: { name: "t", dns: ["*.lan"] },
      token: adminToken,
    });
    assert.equal(created.status, 201);
    const token = created.json<{ token: string }>().token;
    // each request on a new connection: the primary hands connections to the workers in turn
    const n = 6;
    for (let i = 0; i < n; i++) {
      const res = await https("/v1/sign", {
        body: { csr: makeCsr({ san: [`DNS:h${i}.lan`] }).csrPem },
        token,
      });
      assert.equal(res.status, 201);
    }
    const plain = await httpGet(metricsUrl);
    assert.equal(plain.status, 200);
    assert.match(plain.type, /^text\/plain; version=0\.0\.4/);
    const s = parseExposition(plain.body).samples;
    // summed over the workers: every issuance once, whichever worker served it
    assert.equal(sampleValue(s, "certyard_certificates_issued_total", { method: "sign" }), n);
    assert.equal(sampleValue(s, "certyard_requests_total", { route: "/v1/sign", code: "201" }), n);
    // a gauge read from the shared database is taken once, not once per worker
    assert.equal(sampleValue(s, "certyard_certificates", { state: "valid" }), n + 1); // and serve's own TLS certificate
    const viaHttps = await https("/metrics", { token: adminToken });
    assert.equal(viaHttps.status, 200);
    const t = parseExposition(viaHttps.body.toString()).samples;
    assert.equal(sampleValue(t, "certyard_certificates_issued_total", { method: "sign" }), n);
    assert.equal(sampleValue(t, "certyard_certificates", { state: "valid" }), n + 1);
    // only GET /metrics is served there
    const other = await httpGet(metricsUrl.replace("/metrics", "/v1/certs"));
    assert.equal(other.status, 404);
    assert.match(other.type, /application\/problem\+json/);
    assert.equal((await httpGet(metricsUrl, "POST")).status, 405);
  });
});

describe("serve --metrics-listen, bad values", () => {
  test("one line and exit 1, before an empty directory is initialised", async () => {
    const data = mkdtempSync(join(tmpdir(), "certyard-metrics-flag-"));
    try {
      for (const [value, says] of [
        ["9464", /--metrics-listen: "9464" is not HOST:PORT/],
        ["127.0.0.1:70000", /--metrics-listen: port 70000 is out of range/],
      ] as const) {
        const r = await caCliAsync([
          "serve",
          "--data",
          data,
          "--listen",
          "127.0.0.1:0",
          "--metrics-listen",
          value,
        ]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, says);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      }
      assert.equal(readdirSync(data).length, 0, "nothing was initialised");
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});

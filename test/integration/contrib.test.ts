import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parse } from "yaml";
import { httpsRequest } from "../helpers/ca.js";
import { type ServeProcess, serveProcess } from "../helpers/ca-process.js";
import { makeCsr } from "../helpers/openssl.js";
import { parseExposition } from "../helpers/prometheus.js";

const REPO = new URL("../../../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, REPO), "utf8");
const AGENT = fileURLToPath(new URL("../../services/agent/main.js", import.meta.url));
const execFileP = promisify(execFile);

interface Rule {
  alert?: unknown;
  expr?: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}
interface Panel {
  id?: unknown;
  type?: unknown;
  title?: unknown;
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: { refId?: unknown; expr?: unknown }[];
}

/** The certyard_ metric names an expression uses. */
const namesIn = (expr: string) => [...expr.matchAll(/\bcertyard_[a-z0-9_]+\b/g)].map((m) => m[0]);

function getText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode}`)),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

/** A name the exposition has: a sample, a declared metric, or a histogram's series. */
function exposes(text: string): (name: string) => boolean {
  const { samples, types } = parseExposition(text);
  const names = new Set([...samples.map((s) => s.name), ...types.keys()]);
  return (name) => {
    if (names.has(name)) return true;
    const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
    return base !== undefined && types.get(base) === "histogram";
  };
}

describe("contrib/: the alert rules and the Grafana dashboard", () => {
  const rules = parse(read("contrib/prometheus/certyard-alerts.yml")) as {
    groups: { name: string; rules: Rule[] }[];
  };
  const dashboard = JSON.parse(read("contrib/grafana/certyard-dashboard.json")) as {
    uid?: unknown;
    title?: unknown;
    panels: Panel[];
  };
  const ruleExprs = rules.groups.flatMap((g) => g.rules.map((r) => String(r.expr)));
  const panelExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => String(t.expr)));

  let dir: string;
  let serve: ServeProcess;
  let daemon: ReturnType<typeof spawn> | undefined;
  let caText = "";
  let agentText = "";
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "certyard-contrib-"));
    const data = join(dir, "ca");
    serve = await serveProcess(data, ["--metrics-listen", "127.0.0.1:0"]);
    const metricsUrl = /^metrics: (\S+)$/m.exec(serve.announced)?.[1] ?? "";
    const rootPem = readFileSync(join(data, "root.crt"), "utf8");
    const admin = readFileSync(join(data, "admin-token"), "utf8").trim();
    const https = (path: string, o: Parameters<typeof httpsRequest>[2] = {}) =>
      httpsRequest(serve.url + path, rootPem, o);
    const token = (await https("/v1/tokens", { body: { name: "c", dns: ["*.lan"] }, token: admin })).json<{
      token: string;
    }>().token;
    // one request, so the histogram has series
    assert.equal(
      (await https("/v1/sign", { body: { csr: makeCsr({ san: ["DNS:x.lan"] }).csrPem }, token })).status,
      201,
    );
    caText = await getText(metricsUrl);

    const home = join(dir, "home");
    const fingerprint = (await https("/v1/root")).json<{ sha256: string }>().sha256;
    await execFileP(process.execPath, [
      AGENT,
      "bootstrap",
      "--ca",
      serve.url,
      "--fingerprint",
      fingerprint,
      "--home",
      home,
    ]);
    await execFileP(process.execPath, [
      AGENT,
      "cert",
      "--name",
      "reg",
      "--token",
      token,
      "--dns",
      "reg.lan",
      "--out",
      join(dir, "reg"),
      "--home",
      home,
    ]);
    daemon = spawn(process.execPath, [AGENT, "run", "--home", home, "--metrics-listen", "127.0.0.1:0"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    const agentUrl = await new Promise<string>((resolve, reject) => {
      let err = "";
      daemon?.stderr?.on("data", (d: Buffer) => {
        err += d.toString();
        const m = /"url":"(http:[^"]+)"/.exec(err);
        if (m?.[1]) resolve(m[1]);
      });
      daemon?.once("exit", (code) => reject(new Error(`the agent exited ${code}: ${err}`)));
    });
    agentText = await getText(agentUrl);
  });
  after(async () => {
    if (daemon && daemon.exitCode === null) daemon.kill("SIGKILL");
    await serve?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the rules file is Prometheus rule groups: each rule an alert with an expression, a severity and a summary", () => {
    assert.ok(rules.groups.length > 0);
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));
    assert.equal(new Set(alerts).size, alerts.length, "alert names are unique");
    for (const g of rules.groups) {
      assert.equal(typeof g.name, "string");
      for (const r of g.rules) {
        assert.match(String(r.alert), /^Certyard[A-Za-z]+$/);
        assert.equal(typeof r.expr, "string", String(r.alert));
        assert.match(String(r.labels?.severity), /^(warning|critical)$/, String(r.alert));
        assert.equal(typeof r.annotations?.summary, "string", String(r.alert));
        if (r.for !== undefined) assert.match(String(r.for), /^\d+[smhd]$/, String(r.alert));
        assert.ok(namesIn(String(r.expr)).length > 0, `${String(r.alert)} names a certyard metric`);
      }
    }
  });

  test("the dashboard is a Grafana dashboard: unique panel ids, each with a query, within the 24-column grid", () => {
    assert.equal(typeof dashboard.uid, "string");
    assert.equal(typeof dashboard.title, "string");
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const p of dashboard.panels) {
      assert.equal(typeof p.type, "string");
      assert.ok(
        p.gridPos && p.gridPos.x + p.gridPos.w <= 24 && p.gridPos.w > 0 && p.gridPos.h > 0,
        String(p.title),
      );
      assert.ok((p.targets ?? []).length > 0, String(p.title));
      const refIds = (p.targets ?? []).map((t) => t.refId);
      assert.equal(new Set(refIds).size, refIds.length, String(p.title));
      for (const t of p.targets ?? [])
        assert.ok(namesIn(String(t.expr)).length > 0, `${String(p.title)}: ${String(t.expr)}`);
    }
  });

  test("every metric they name is on a real serve's or agent's /metrics", () => {
    const onCa = exposes(caText);
    const onAgent = exposes(agentText);
    const exists = (n: string) => (n.startsWith("certyard_agent_") ? onAgent(n) : onCa(n));
    // the check can fail: a name no one serves is caught
    assert.equal(exists("certyard_no_such_metric"), false);
    assert.equal(exists("certyard_agent_no_such_metric"), false);
    const named = new Set([...ruleExprs, ...panelExprs].flatMap(namesIn));
    const missing = [...named].filter((n) => !exists(n));
    assert.deepEqual(missing, [], `named in contrib/ but not served:\nCA:\n${caText}\nagent:\n${agentText}`);
    // and they cover the main ones
    for (const n of [
      "certyard_certificates_expiring",
      "certyard_host_drift",
      "certyard_agent_renewal_failures_in_a_row",
    ])
      assert.ok(named.has(n), n);
  });
});

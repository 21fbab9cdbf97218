/**
 * The dashboard at size (issue 18): the overview and a search, each answered in under 200 ms with
 * 1,000,000 certificates, on either dialect (BENCH_ONLY=dashboard on SQLite, BENCH_ONLY=postgres
 * after its fill). Also the first GET /metrics, which reads the certificates' counts. Logs in as a browser does (the login form's CSRF token and cookie, the
 * admin token), then times whole page loads over HTTPS.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { CaProcess, HttpsResponse } from "./ca-process.js";
import { httpsRequest } from "./ca-process.js";
import { heading, line, round } from "./util.js";

export const DASHBOARD_TARGET_MS = 200;
const TRIES = 15;

function cookiesOf(res: HttpsResponse): string[] {
  const h = res.headers["set-cookie"];
  return (h === undefined ? [] : Array.isArray(h) ? h : [h]).map((c) => c.split(";")[0] ?? "");
}

/** A session cookie for the dashboard, from the login form and the admin token. */
async function login(ca: CaProcess, adminToken: string): Promise<string> {
  const form = await httpsRequest(`${ca.baseUrl}/ui/login`, { method: "GET", ca: ca.rootPem });
  const csrf = /name="csrf" value="([^"]+)"/.exec(form.body)?.[1];
  const loginCookie = cookiesOf(form).find((c) => c.startsWith("cy_login="));
  if (!csrf || !loginCookie) throw new Error(`GET /ui/login: no form (${form.status})`);
  const res = await httpsRequest(`${ca.baseUrl}/ui/login`, {
    method: "POST",
    ca: ca.rootPem,
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: loginCookie },
    body: new URLSearchParams({ token: adminToken, csrf }).toString(),
  });
  const session = cookiesOf(res).find((c) => c.startsWith("cy_session="));
  if (res.status !== 303 || !session) throw new Error(`POST /ui/login: ${res.status} ${res.body}`);
  return session;
}

async function timeGet(ca: CaProcess, cookie: string, path: string): Promise<{ ms: number; body: string }> {
  const started = process.hrtime.bigint();
  const res = await httpsRequest(`${ca.baseUrl}${path}`, {
    method: "GET",
    ca: ca.rootPem,
    headers: { cookie },
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.body.slice(0, 300)}`);
  return { ms, body: res.body };
}

async function timeMany(ca: CaProcess, cookie: string, path: string) {
  const times: number[] = [];
  let body = "";
  for (let i = 0; i < TRIES; i++) {
    const r = await timeGet(ca, cookie, path);
    times.push(r.ms);
    body = r.body;
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)] ?? 0, maxMs: times.at(-1) ?? 0, body };
}

/** GET /ui/ (the figures are read at every load, from certificate_days) and searches. */
export async function dashboardBench(
  ca: CaProcess,
  data: string,
  rows: number,
  sample: { name: string; ip: string; token: string; serial?: string },
) {
  heading(`the dashboard with ${rows.toLocaleString("en-US")} certificates`);
  const adminToken = (await readFile(join(data, "admin-token"), "utf8")).trim();
  const cookie = await login(ca, adminToken);
  const first = await timeGet(ca, cookie, "/ui/");
  line(`GET /ui/ first load (reads the figures): ms (target < ${DASHBOARD_TARGET_MS})`, round(first.ms, 1));
  const overview = await timeMany(ca, cookie, "/ui/");
  line("GET /ui/ again: median / slowest ms", `${round(overview.medianMs, 1)} / ${round(overview.maxMs, 1)}`);
  const figures: Record<string, number> = {
    rows,
    overviewFirstMs: round(first.ms, 1),
    overviewMedianMs: round(overview.medianMs, 1),
  };
  for (const [label, q] of [
    ["name", sample.name],
    ["ip", sample.ip],
    ["token", sample.token],
    ["everything", ""],
  ] as const) {
    const r = await timeMany(ca, cookie, `/ui/certificates?q=${encodeURIComponent(q)}`);
    const shown = (r.body.match(/data-serial=/g) ?? []).length;
    line(
      `GET /ui/certificates?q=${q || "(empty)"}: median / slowest ms (${shown} rows)`,
      `${round(r.medianMs, 1)} / ${round(r.maxMs, 1)}`,
    );
    figures[`searchMedianMs ${label}`] = round(r.medianMs, 1);
    figures[`searchMaxMs ${label}`] = round(r.maxMs, 1);
  }
  // a serial (of a certificate serve issued: the fill's PEMs are not certificates, and a serial
  // search reads the certificate), and the state filters (the revoked and the superseded on
  // their partial indexes, the expired up to now on certificates_not_after)
  for (const [label, path] of [
    ["serial", sample.serial === undefined ? null : `/ui/certificates?q=${sample.serial}`],
    ["state expired", "/ui/certificates?state=expired"],
    ["state revoked", "/ui/certificates?state=revoked"],
    ["state all", "/ui/certificates?state=all"],
  ] as const) {
    if (path === null) continue;
    const r = await timeMany(ca, cookie, path);
    const shown = (r.body.match(/data-serial=/g) ?? []).length;
    line(
      `GET ${path}: median / slowest ms (${shown} rows)`,
      `${round(r.medianMs, 1)} / ${round(r.maxMs, 1)}`,
    );
    figures[`searchMedianMs ${label}`] = round(r.medianMs, 1);
    figures[`searchMaxMs ${label}`] = round(r.maxMs, 1);
  }
  // GET /metrics: its first scrape reads the certificates' counts (cached a few seconds after)
  const scrape = async () => {
    const started = process.hrtime.bigint();
    const res = await httpsRequest(`${ca.baseUrl}/metrics`, {
      method: "GET",
      ca: ca.rootPem,
      headers: { authorization: `Bearer ${adminToken}` },
    });
    if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  figures.metricsFirstScrapeMs = round(await scrape(), 1);
  line("GET /metrics, the first scrape (counts the certificates): ms", figures.metricsFirstScrapeMs);
  const slowestSearch = Math.max(
    ...Object.entries(figures)
      .filter(([k]) => k.startsWith("searchMaxMs"))
      .map(([, v]) => v),
  );
  line(`slowest search, ms (target < ${DASHBOARD_TARGET_MS})`, round(slowestSearch, 1));
  figures.overviewFirstRatioToTarget = round(first.ms / DASHBOARD_TARGET_MS, 2);
  figures.slowestSearchRatioToTarget = round(slowestSearch / DASHBOARD_TARGET_MS, 2);
  return figures;
}

import { Hono } from "hono";
import { html } from "hono/html";
import { type AlertCondition, alertConditions, isDrift } from "../../core/hosts.js";
import type { DashboardDeps, UiEnv } from "./deps.js";
import { type Html, inDays, page, when } from "./layout.js";

type WithNewest = Awaited<ReturnType<DashboardDeps["hosts"]["withNewest"]>>;

/** A host is overdue when its renewal time has passed (by an hour: a renewal takes a moment). */
const OVERDUE_GRACE_MS = 3_600_000;

/** What is wrong with the fleet now: the alert conditions (core/hosts.ts), and overdue renewals. */
export function fleetProblems(
  hosts: WithNewest,
  ca: {
    rootNotAfter: number;
    intermediateNotAfter: number;
    crl: { nextUpdate: number; lifetimeMs: number } | null;
  },
  now: number,
): AlertCondition[] {
  const found = alertConditions(hosts, ca, now);
  for (const { record: r } of hosts) {
    if (r.renewAt !== null && r.renewAt + OVERDUE_GRACE_MS <= now) {
      found.push({
        key: `host-overdue:${r.name}@${r.host}`,
        kind: "host-expiring",
        summary: `${r.name}@${r.host} was due to renew at ${when(r.renewAt)}${r.error ? `: ${r.error}` : ""}`,
        details: { name: r.name, host: r.host },
      });
    }
  }
  return found;
}

/** /ui/hosts: the table of host reports (GET /v1/hosts), each against the newest certificate for its names. */
export function hostPages(deps: DashboardDeps) {
  const app = new Hono<UiEnv>();
  app.get("/hosts", async (c) => {
    const now = deps.clock();
    const hosts = await deps.hosts.withNewest();
    return c.html(page("Hosts", hostsTable(hosts, now), c.get("session").csrf));
  });
  return app;
}

export function hostsTable(hosts: WithNewest, now: number): Html {
  if (hosts.length === 0)
    return html`<p class="note" id="no-hosts">No host has reported yet: agents report after every <code>cert</code>, <code>renew</code> and once a day from <code>run</code>.</p>`;
  return html`<div class="wrap"><table id="hosts"><tr><th>name@host</th><th>last seen</th><th>serves</th><th>certificate</th><th>renews</th><th>error</th></tr>
${hosts.map(({ record: r, newestSha256 }) => {
  const drift = isDrift(r.servedSha256, newestSha256);
  const overdue = r.renewAt !== null && r.renewAt + OVERDUE_GRACE_MS <= now;
  return html`<tr data-host="${r.name}@${r.host}"><td>${r.name}@<a href="/ui/certificates?q=${encodeURIComponent(r.host)}">${r.host}</a></td>
<td>${when(r.lastSeen)}</td>
<td class="${drift ? "state-revoked" : ""}">${r.servedSha256 === null ? "not checked" : drift ? html`<b>drift</b>: <span class="mono">${r.servedSha256.slice(0, 16)}…</span>, newest <span class="mono">${(newestSha256 ?? "").slice(0, 16)}…</span>` : "the newest"}</td>
<td><a href="/ui/certificates/${r.serial}" class="mono">${r.serial.slice(0, 16)}…</a><br><span class="muted">expires in ${inDays(r.notAfter, now)}</span></td>
<td class="${overdue ? "state-expired" : ""}">${r.renewAt === null ? "—" : html`${when(r.renewAt)}${overdue ? html` <b>overdue</b>` : ""}`}</td>
<td>${r.error ?? ""}</td></tr>`;
})}</table></div>`;
}

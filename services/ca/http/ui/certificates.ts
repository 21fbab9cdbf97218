import { Hono } from "hono";
import { html } from "hono/html";
import { malformed, notFound } from "../../../../shared/problem.js";
import type { InventorySearch } from "../../authority/certificates.js";
import { sessionActor } from "../../core/audit.js";
import { encodeCursor, INVENTORY_STATES, type InventoryRow } from "../../core/inventory.js";
import { ipFamily } from "../../core/names.js";
import { normalizeSerial, REVOCATION_REASONS, type RevocationReason } from "../../core/types.js";
import type { DashboardDeps, UiEnv } from "./deps.js";
import { csrfField, type Html, inDays, page, when } from "./layout.js";
import { formOf } from "./session.js";

const PAGE_ROWS = 50;

/** How a search box's text was read: as which filter, for the page to say. */
export type SearchKind = "everything" | "token" | "host" | "serial" | "IP address" | "name";

/**
 * What `q` means: a token's name or id; a host that reports (its certificates are those for the
 * names of the certificate it reported with); a serial (hex, 16 digits or more, of a certificate
 * that exists); an IP address; otherwise a DNS name. Each is one of the inventory's indexed filters.
 */
export async function readSearch(
  deps: DashboardDeps,
  q: string,
): Promise<{ kind: SearchKind; search: InventorySearch }> {
  const text = q.trim();
  if (text === "") return { kind: "everything", search: {} };
  if ((await deps.ui.tokens.idOf(text)) !== null) return { kind: "token", search: { token: text } };
  const host = (await deps.ui.hostReports()).find((r) => r.host === text || `${r.name}@${r.host}` === text);
  const hostName = host?.names[0];
  if (hostName !== undefined) return { kind: "host", search: { name: hostName } };
  const hex = text.replace(/:/g, "").toLowerCase();
  if (/^[0-9a-f]{16,64}$/.test(hex)) {
    const serial = normalizeSerial(hex);
    if ((await deps.ui.certificate(serial)) !== null) return { kind: "serial", search: { serial } };
  }
  if (ipFamily(text) !== null) return { kind: "IP address", search: { ip: text } };
  return { kind: "name", search: { name: text } };
}

/** /ui/certificates: search, a certificate's page, its PEM, and revocation with a confirm step. */
export function certificatePages(deps: DashboardDeps) {
  const app = new Hono<UiEnv>();
  app.get("/certificates", async (c) => {
    const q = c.req.query("q") ?? "";
    const state = c.req.query("state") || undefined;
    const cursor = c.req.query("cursor") || undefined;
    const { kind, search } = await readSearch(deps, q);
    const result = await deps.certificates.search({ ...search, state, cursor, limit: String(PAGE_ROWS) });
    const next = result.next === null ? null : encodeCursor(result.next);
    const nextUrl = new URLSearchParams({
      q,
      ...(state ? { state } : {}),
      ...(next ? { cursor: next } : {}),
    });
    return c.html(
      page(
        "Certificates",
        html`<form method="get" action="/ui/certificates" class="grid">
<label>Name, IP, serial or token <input type="search" name="q" value="${q}" placeholder="registry.lan"></label>
<label>State <select name="state"><option value="">not revoked</option>${[...INVENTORY_STATES, "all"].map(
          (s) => html`<option value="${s}" ${s === state ? "selected" : ""}>${s}</option>`,
        )}</select></label>
<label>&nbsp;<button type="submit">Search</button></label></form>
<p class="muted" id="search-kind">${kind === "everything" ? "Every certificate" : `Searched as ${kind}: ${q.trim()}`}${state ? `, state ${state}` : ""}; soonest expiry first.</p>
${certificateTable(result.rows, deps.clock())}
${next ? html`<p><a id="next-page" href="/ui/certificates?${nextUrl.toString()}">Next ${PAGE_ROWS} →</a></p>` : ""}`,
        c.get("session").csrf,
      ),
    );
  });

  app.get("/certificates/:serial", async (c) => {
    const d = await detail(deps, c.req.param("serial"));
    const r = d.record;
    const now = deps.clock();
    const requester =
      d.requester === null
        ? "—"
        : "token" in d.requester
          ? html`token <a href="/ui/certificates?q=${encodeURIComponent(d.requester.token)}">${d.requester.token}</a>`
          : "acmeAccount" in d.requester
            ? html`ACME account <code>${d.requester.acmeAccount}</code>${d.requester.eab ? html` (EAB ${d.requester.eab})` : ""}`
            : "the CA itself (its serving certificate)";
    const state =
      r.revokedAt !== null ? "revoked" : r.notAfter <= now ? "expired" : d.renewedBy ? "superseded" : "valid";
    const revoked = c.req.query("revoked") === "1";
    return c.html(
      page(
        `Certificate ${r.commonName ?? r.dnsNames[0] ?? r.ipAddresses[0] ?? r.serial}`,
        html`${revoked ? html`<p class="note ok" id="revoked-note">Revoked. The next CRL lists it.</p>` : ""}
<div class="wrap"><table>
<tr><th>state</th><td id="cert-state" class="state-${state}">${state}${r.revokedAt !== null ? ` since ${when(r.revokedAt)}` : ""}</td></tr>
<tr><th>serial</th><td class="mono">${r.serial}</td></tr>
<tr><th>DNS names</th><td>${r.dnsNames.join(", ") || "—"}</td></tr>
<tr><th>IP addresses</th><td>${r.ipAddresses.join(", ") || "—"}</td></tr>
<tr><th>valid</th><td>${when(r.notBefore)} to ${when(r.notAfter)} (${r.notAfter > now ? `expires in ${inDays(r.notAfter, now)}` : "expired"})</td></tr>
<tr><th>key SHA-256</th><td class="mono">${r.keyFingerprint}</td></tr>
<tr><th>asked for by</th><td>${requester}</td></tr>
<tr><th>renews</th><td>${r.renewedFrom ? html`<a href="/ui/certificates/${r.renewedFrom}" class="mono">${r.renewedFrom}</a>` : "—"}</td></tr>
<tr><th>renewed by</th><td>${d.renewedBy ? html`<a href="/ui/certificates/${d.renewedBy}" class="mono">${d.renewedBy}</a>` : "—"}</td></tr>
</table></div>
<p><a href="/ui/certificates/${r.serial}/pem" download>Download PEM (certificate and chain)</a>
${r.revokedAt === null ? html` · <a href="/ui/certificates/${r.serial}/revoke" id="revoke-link">Revoke…</a>` : ""}</p>
<h2>Certificate</h2><pre>${r.pem.trim()}</pre><h2>Chain</h2><pre>${d.chainPem.trim()}</pre>`,
        c.get("session").csrf,
      ),
    );
  });

  app.get("/certificates/:serial/pem", async (c) => {
    const d = await detail(deps, c.req.param("serial"));
    return c.body(`${d.record.pem.trim()}\n${d.chainPem.trim()}\n`, 200, {
      "content-type": "application/pem-certificate-chain",
      "content-disposition": `attachment; filename="${d.record.serial}.pem"`,
    });
  });

  app.get("/certificates/:serial/revoke", async (c) => {
    const d = await detail(deps, c.req.param("serial"));
    const r = d.record;
    return c.html(
      page(
        "Revoke a certificate",
        html`<p class="note">Revoke <b>${[...r.dnsNames, ...r.ipAddresses].join(", ")}</b>, serial <code>${r.serial}</code>?
This cannot be undone: clients that check the CRL refuse it from then on.</p>
<form method="post" action="/ui/certificates/${r.serial}/revoke">${csrfField(c.get("session").csrf)}
<label>Reason <select name="reason">${Object.keys(REVOCATION_REASONS).map(
          (k) => html`<option value="${k}" ${k === "unspecified" ? "selected" : ""}>${k}</option>`,
        )}</select></label>
<button type="submit" class="danger" id="confirm-revoke">Revoke</button> <a href="/ui/certificates/${r.serial}">Cancel</a></form>`,
        c.get("session").csrf,
      ),
    );
  });

  app.post("/certificates/:serial/revoke", async (c) => {
    const serial = normalizeSerial(c.req.param("serial"));
    const form = await formOf(c);
    const reason = form.reason ?? "unspecified";
    if (!Object.hasOwn(REVOCATION_REASONS, reason)) throw malformed(`"${reason}" is not a revocation reason`);
    await deps.authority.revoke(
      serial,
      REVOCATION_REASONS[reason as RevocationReason],
      sessionActor(c.get("session").idHash),
    );
    deps.log.info({ serial, reason, by: "dashboard" }, "revoked");
    return c.redirect(`/ui/certificates/${serial}?revoked=1`, 303);
  });
  return app;
}

async function detail(deps: DashboardDeps, serialText: string) {
  const serial = normalizeSerial(serialText);
  const d = await deps.ui.certificate(serial);
  if (!d) throw notFound(`no certificate with serial ${serial}`);
  return d;
}

function certificateTable(rows: InventoryRow[], now: number): Html {
  if (rows.length === 0) return html`<p class="note" id="no-results">No certificate matches.</p>`;
  return html`<div class="wrap"><table id="certificates"><tr><th>names</th><th>state</th><th>expires</th><th>serial</th></tr>
${rows.map(
  (r) =>
    html`<tr data-serial="${r.serial}"><td><a href="/ui/certificates/${r.serial}">${[...r.dnsNames, ...r.ipAddresses].join(", ") || r.serial}</a></td><td class="state-${r.state}">${r.state}</td><td>${when(r.notAfter)}<br><span class="muted">${r.notAfter > now ? `in ${inDays(r.notAfter, now)}` : "expired"}</span></td><td class="mono">${r.serial}</td></tr>`,
)}</table></div>`;
}

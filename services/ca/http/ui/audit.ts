import { Hono } from "hono";
import { html } from "hono/html";
import { malformed } from "../../../../shared/problem.js";
import { ACTOR_KINDS, AUDIT_TYPES, type AuditEvent } from "../../core/audit.js";
import type { DashboardDeps, UiEnv } from "./deps.js";
import { type Html, page, when } from "./layout.js";

const PAGE_ROWS = 50;

/**
 * /ui/audit: the audit trail (audit/service.ts, as `audit list` reads it), filtered by event
 * type, actor (a kind, or KIND:ID) and since (a duration), oldest first, 50 a page after the
 * last id shown.
 */
export function auditPages(deps: DashboardDeps) {
  const app = new Hono<UiEnv>();
  app.get("/audit", async (c) => {
    const type = c.req.query("type") || undefined;
    const actor = c.req.query("actor")?.trim() || undefined;
    const since = c.req.query("since")?.trim() || undefined;
    const after = c.req.query("after") || undefined;
    if (after !== undefined && !/^\d{1,15}$/.test(after)) throw malformed("after: an event id");
    const events = await deps.ui.auditEvents({
      types: type ? [type] : [],
      actor,
      since,
      afterId: after === undefined ? 0 : Number(after),
      limit: PAGE_ROWS + 1,
    });
    const shown = events.slice(0, PAGE_ROWS);
    const last = shown.at(-1);
    const filters = { ...(type ? { type } : {}), ...(actor ? { actor } : {}), ...(since ? { since } : {}) };
    const nextUrl =
      last && events.length > PAGE_ROWS ? new URLSearchParams({ ...filters, after: String(last.id) }) : null;
    return c.html(
      page(
        "Audit trail",
        html`<form method="get" action="/ui/audit" class="grid">
<label>Event <select name="type"><option value="">every type</option>${AUDIT_TYPES.map(
          (t) => html`<option value="${t}" ${t === type ? "selected" : ""}>${t}</option>`,
        )}</select></label>
<label>Actor <input type="search" name="actor" value="${actor ?? ""}" placeholder="${ACTOR_KINDS.join(", ")} or KIND:ID"></label>
<label>Since <input type="search" name="since" value="${since ?? ""}" placeholder="24h, 7d"></label>
<label>&nbsp;<button type="submit">Filter</button></label></form>
<p class="muted">Oldest first. <code>certyard-ca audit verify</code> checks the chain of hashes.</p>
${auditTable(shown)}
${nextUrl ? html`<p><a id="next-page" href="/ui/audit?${nextUrl.toString()}">Next ${PAGE_ROWS} →</a></p>` : ""}`,
        c.get("session").csrf,
      ),
    );
  });
  return app;
}

function auditTable(events: AuditEvent[]): Html {
  if (events.length === 0) return html`<p class="muted" id="no-events">No events.</p>`;
  return html`<div class="wrap"><table id="audit-events"><tr><th>#</th><th>when</th><th>event</th><th>actor</th><th>subject</th><th>details</th></tr>
${events.map(
  (e) =>
    html`<tr data-type="${e.type}" data-id="${e.id}"><td>${e.id}</td><td>${when(e.at)}</td><td>${e.type}</td><td>${e.actor.kind}:${e.actor.id}</td><td>${e.subject ?? "—"}</td><td><code>${JSON.stringify(e.details)}</code></td></tr>`,
)}</table></div>`;
}

import { X509Certificate } from "node:crypto";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { getCookie } from "hono/cookie";
import { html } from "hono/html";
import { isProblem, payloadTooLarge } from "../../../../shared/problem.js";
import { TokenRefused } from "../../core/tokens.js";
import { clientAddress } from "../context.js";
import { authenticate } from "../middleware/auth.js";
import { auditPages } from "./audit.js";
import { certificatePages } from "./certificates.js";
import { expiryChart } from "./chart.js";
import type { DashboardDeps, UiEnv } from "./deps.js";
import { uiOnError } from "./errors.js";
import { fleetProblems, hostPages } from "./hosts.js";
import { csrfField, type Html, inDays, PAGE_HEADERS, page, when } from "./layout.js";
import {
  checkPost,
  csrfOf,
  endSession,
  LOGIN_COOKIE,
  loginCsrf,
  requireSession,
  startSession,
} from "./session.js";
import { credentialPages } from "./tokens.js";

/** The timeline's length: certificates expiring per day over this many days. */
export const TIMELINE_DAYS = 90;

/**
 * The dashboard under /ui/: server-rendered pages, no script. Login takes the admin token and
 * starts a session (session.ts); every other page needs one.
 */
export function uiRoutes(deps: DashboardDeps) {
  const ui = new Hono<UiEnv>();
  ui.use(
    "*",
    bodyLimit({
      maxSize: 64 * 1024,
      onError: () => {
        throw payloadTooLarge("a form is at most 64 KiB");
      },
    }),
  );
  ui.use("*", async (c, next) => {
    await next();
    for (const [k, v] of Object.entries(PAGE_HEADERS)) c.res.headers.set(k, v);
  });

  ui.get("/login", (c) => c.html(loginPage(loginCsrf(c))));
  ui.post("/login", async (c) => {
    const secret = getCookie(c, LOGIN_COOKIE);
    const form = await checkPost(c, secret ? csrfOf(secret) : "\0no login cookie");
    const address = clientAddress(c.env);
    let adminId: string;
    try {
      adminId = (await authenticate(deps, `Bearer ${(form.token ?? "").trim() || "-"}`, "admin", address)).id;
    } catch (err) {
      if (err instanceof TokenRefused || (isProblem(err) && err.status === 401)) {
        deps.log.warn({ address }, "dashboard login refused");
        return c.html(loginPage(loginCsrf(c), "That is not the admin token."), 401);
      }
      throw err;
    }
    await startSession(c, deps, adminId);
    deps.log.info({ address }, "dashboard login");
    return c.redirect("/ui/", 303);
  });

  ui.use("*", requireSession(deps));
  ui.post("/logout", async (c) => {
    await endSession(c, deps);
    return c.redirect("/ui/login", 303);
  });
  ui.get("/", async (c) => c.html(await overviewPage(deps, c.get("session").csrf)));
  ui.route("/", certificatePages(deps));
  ui.route("/", credentialPages(deps));
  ui.route("/", hostPages(deps));
  ui.route("/", auditPages(deps));
  ui.onError(uiOnError(deps.log, deps.storage));
  return ui;
}

function loginPage(csrf: string, error?: string): Html {
  return page(
    "Log in",
    html`${error ? html`<p class="note error">${error}</p>` : ""}
<form method="post" action="/ui/login">${csrfField(csrf)}
<label>Admin token <input type="password" name="token" autocomplete="off" required autofocus size="40"></label>
<p class="muted">The admin token is in the file <code>admin-token</code> of the CA's data directory.</p>
<button type="submit">Log in</button></form>`,
  );
}

async function overviewPage(deps: DashboardDeps, csrf: string): Promise<Html> {
  const now = deps.clock();
  const day0 = Math.floor(now / 86_400_000) * 86_400_000;
  const [figures, crl, hosts] = await Promise.all([
    deps.ui.overview(now, TIMELINE_DAYS),
    deps.ui.crl(),
    deps.hosts.withNewest(),
  ]);
  const { counts } = figures;
  const within = (days: number) => figures.timeline.perDay.slice(0, days).reduce((a, b) => a + b, 0);
  const caCerts = [
    { role: "root", pem: deps.rootPem },
    ...splitPem(deps.authority.chainPem).map((pem, i) => ({
      role: i === 0 ? "intermediate" : "cross-certificate",
      pem,
    })),
  ].map(({ role, pem }) => {
    const x = new X509Certificate(pem);
    return { role, subject: x.subject.replace(/\n/g, ", "), notAfter: Date.parse(x.validTo) };
  });
  const problems = fleetProblems(
    hosts,
    {
      rootNotAfter: caCerts[0]?.notAfter ?? Number.POSITIVE_INFINITY,
      intermediateNotAfter: caCerts[1]?.notAfter ?? Number.POSITIVE_INFINITY,
      crl: crl && { nextUpdate: crl.nextUpdate, lifetimeMs: crl.nextUpdate - crl.thisUpdate },
    },
    now,
  );
  const stateCard = (state: keyof typeof counts) =>
    html`<a class="card" href="/ui/certificates?state=${state}" data-state="${state}"><span class="state-${state}">${state}</span><b>${counts[state].toLocaleString("en-US")}</b></a>`;
  return page(
    "Overview",
    html`<div class="cards">${stateCard("valid")}${stateCard("superseded")}${stateCard("expired")}${stateCard("revoked")}
<div class="card">expiring in 7 days<b id="expiring-7d">${within(7).toLocaleString("en-US")}</b></div>
<div class="card">expiring in 30 days<b id="expiring-30d">${within(30).toLocaleString("en-US")}</b></div></div>
<h2>Valid certificates expiring per day, next ${TIMELINE_DAYS} days</h2>
${expiryChart(figures.timeline.perDay, day0)}
<p class="muted">${figures.timeline.later > 0 ? `${figures.timeline.later.toLocaleString("en-US")} more expire later than that. ` : ""}Figures as of ${when(figures.at)}.</p>
<h2>Hosts needing attention</h2>
${
  problems.length === 0
    ? html`<p class="muted" id="fleet-ok">${hosts.length} host${hosts.length === 1 ? "" : "s"} reporting; none in drift, overdue, expiring unrenewed or silent. <a href="/ui/hosts">Hosts</a></p>`
    : html`<ul id="fleet-problems">${problems.map((p) => html`<li data-kind="${p.kind}">${p.summary}</li>`)}</ul><p><a href="/ui/hosts">Hosts</a></p>`
}
<h2>The CA</h2><div class="wrap"><table><tr><th>what</th><th>subject</th><th>expires</th><th>in</th></tr>
${caCerts.map((ca) => html`<tr><td>${ca.role}</td><td>${ca.subject}</td><td>${when(ca.notAfter)}</td><td>${inDays(ca.notAfter, now)}</td></tr>`)}
<tr><td>CRL</td><td>${crl ? `number ${crl.number}, made ${when(crl.thisUpdate)}` : "not made yet"}</td><td>${crl ? when(crl.nextUpdate) : "—"}</td><td>${crl ? inDays(crl.nextUpdate, now) : "—"}</td></tr>
</table></div>`,
    csrf,
  );
}

function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

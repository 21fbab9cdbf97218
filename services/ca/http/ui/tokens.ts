import { Hono } from "hono";
import { html } from "hono/html";
import { InputError } from "../../../../shared/errors.js";
import { encodeJoin } from "../../../../shared/join.js";
import { sessionActor } from "../../core/audit.js";
import { formatDnsPattern, formatIpRange } from "../../core/names.js";
import type { DashboardDeps, UiEnv } from "./deps.js";
import { csrfField, type Html, page, when } from "./layout.js";
import { formOf } from "./session.js";

/** A join string enrols one host within a day unless the form says otherwise (as `token create --join`). */
const JOIN_DEFAULTS = { uses: 1, expires: "24h" } as const;

/** A form's list of names: separated by commas, spaces or new lines. */
export const listOf = (text: string | undefined) => (text ?? "").split(/[\s,]+/).filter((s) => s !== "");

const optional = (text: string | undefined) => (text?.trim() ? text.trim() : undefined);

function positive(text: string | undefined, field: string): number | undefined {
  const t = optional(text);
  if (t === undefined) return undefined;
  if (!/^\d{1,9}$/.test(t) || Number(t) < 1)
    throw new InputError(`${field}: "${t}" is not a positive whole number`);
  return Number(t);
}

/** /ui/tokens and /ui/eabs: list, create (the secret shown once), revoke. */
export function credentialPages(deps: DashboardDeps) {
  const app = new Hono<UiEnv>();

  app.get("/tokens", async (c) => c.html(await tokensPage(deps, c.get("session").csrf)));
  app.post("/tokens", async (c) => {
    const form = await formOf(c);
    const join = form.join === "on";
    const { record, secret } = await deps.ui.tokens.create(
      {
        name: form.name ?? "",
        dns: listOf(form.dns),
        ip: listOf(form.ip),
        maxValidity: optional(form.maxValidity),
        expires: optional(form.expires) ?? (join ? JOIN_DEFAULTS.expires : undefined),
        uses: positive(form.uses, "uses") ?? (join ? JOIN_DEFAULTS.uses : undefined),
      },
      sessionActor(c.get("session").idHash),
    );
    deps.log.info({ token: record.name, by: "dashboard" }, "token created");
    const shown = join
      ? encodeJoin({ url: deps.ui.url, fingerprint: deps.rootFingerprint, token: secret })
      : secret;
    const body = html`<p class="note ok">Token <b>${record.name}</b> created. Copy its ${join ? "join string" : "secret"} now: it is not shown again.</p>
<pre id="secret">${shown}</pre>
<p class="muted">${join ? html`On the host: <code>certyard-agent bootstrap --join …</code>, then <code>certyard-agent cert --join …</code>.` : html`On the host: <code>certyard-agent cert --token …</code>.`}</p>
${await tokensPage(deps, c.get("session").csrf, true)}`;
    return c.html(page("Token created", body, c.get("session").csrf), 201);
  });
  app.post("/tokens/revoke", async (c) => {
    const form = await formOf(c);
    await deps.ui.tokens.revoke(form.name ?? "", sessionActor(c.get("session").idHash));
    deps.log.info({ token: form.name, by: "dashboard" }, "token revoked");
    return c.redirect("/ui/tokens", 303);
  });

  app.get("/eabs", async (c) => c.html(await eabsPage(deps, c.get("session").csrf)));
  app.post("/eabs", async (c) => {
    const form = await formOf(c);
    const { record, hmac } = await deps.ui.eabs.create(
      {
        name: form.name ?? "",
        dns: listOf(form.dns),
        ip: listOf(form.ip),
        maxValidity: optional(form.maxValidity),
        accounts: positive(form.accounts, "accounts"),
      },
      sessionActor(c.get("session").idHash),
    );
    deps.log.info({ eab: record.name, by: "dashboard" }, "EAB created");
    const body = html`<p class="note ok">EAB <b>${record.name}</b> created. Copy its HMAC key now: it is not shown again.</p>
<pre id="eab">--eab-kid ${record.kid} --eab-hmac-key ${hmac}</pre>
<p class="muted">certbot: <code>--eab-kid ${record.kid} --eab-hmac-key ${hmac}</code>; lego: <code>--eab --kid ${record.kid} --hmac ${hmac}</code>.</p>
${await eabsPage(deps, c.get("session").csrf, true)}`;
    return c.html(page("EAB created", body, c.get("session").csrf), 201);
  });
  app.post("/eabs/revoke", async (c) => {
    const form = await formOf(c);
    await deps.ui.eabs.revoke(form.name ?? "", sessionActor(c.get("session").idHash));
    deps.log.info({ eab: form.name, by: "dashboard" }, "EAB revoked");
    return c.redirect("/ui/eabs", 303);
  });
  return app;
}

const revokeButton = (action: string, name: string, csrf: string) =>
  html`<form method="post" action="${action}" class="inline">${csrfField(csrf)}<input type="hidden" name="name" value="${name}"><button type="submit" class="danger">Revoke</button></form>`;

async function tokensPage(deps: DashboardDeps, csrf: string, bare = false): Promise<Html> {
  const now = deps.clock();
  const tokens = await deps.ui.tokens.list();
  const body = html`<div class="wrap"><table id="tokens"><tr><th>name</th><th>state</th><th>names</th><th>max validity</th><th>uses left</th><th>expires</th><th></th></tr>
${tokens.map((t) => {
  const state =
    t.revokedAt !== null
      ? "revoked"
      : t.expiresAt !== null && t.expiresAt <= now
        ? "expired"
        : t.usesLeft === 0
          ? "used up"
          : "active";
  return html`<tr data-token="${t.name}"><td><a href="/ui/certificates?q=${encodeURIComponent(t.name)}">${t.name}</a></td><td class="token-state">${state}</td>
<td>${[...t.policy.dns.map(formatDnsPattern), ...t.policy.ips.map(formatIpRange)].join(", ") || "—"}</td>
<td>${Math.round(t.policy.maxValidityMs / 86_400_000)} d</td><td>${t.usesLeft ?? "∞"}</td><td>${when(t.expiresAt)}</td>
<td>${state === "active" ? revokeButton("/ui/tokens/revoke", t.name, csrf) : ""}</td></tr>`;
})}</table></div>
<h2>New token</h2>
<form method="post" action="/ui/tokens" id="new-token">${csrfField(csrf)}<div class="grid">
<label>Name <input name="name" required pattern="[A-Za-z0-9._@-]+" placeholder="registry-host"></label>
<label>DNS patterns <input name="dns" placeholder="registry.lan *.lan"></label>
<label>IP addresses or CIDRs <input name="ip" placeholder="10.0.0.0/24"></label>
<label>Max validity <input name="maxValidity" placeholder="30d"></label>
<label>Expires after <input name="expires" placeholder="never"></label>
<label>Uses <input name="uses" inputmode="numeric" placeholder="unlimited"></label></div>
<label><input type="checkbox" name="join"> Give a join string (CA URL, root fingerprint and token in one; one use within 24 h unless set above)</label>
<button type="submit">Create token</button></form>`;
  return bare ? body : page("Tokens", body, csrf);
}

async function eabsPage(deps: DashboardDeps, csrf: string, bare = false): Promise<Html> {
  const eabs = await deps.ui.eabs.list();
  const body = html`<div class="wrap"><table id="eabs"><tr><th>name</th><th>key id</th><th>state</th><th>accounts</th><th>names</th><th>created</th><th></th></tr>
${eabs.map(({ eab, accounts }) => {
  const state = eab.revokedAt !== null ? "revoked" : accounts >= eab.maxAccounts ? "used up" : "active";
  return html`<tr data-eab="${eab.name}"><td>${eab.name}</td><td class="mono">${eab.kid}</td><td>${state}</td><td>${accounts}/${eab.maxAccounts}</td>
<td>${[...eab.policy.dns.map(formatDnsPattern), ...eab.policy.ips.map(formatIpRange)].join(", ") || "—"}</td><td>${when(eab.createdAt)}</td>
<td>${eab.revokedAt === null ? revokeButton("/ui/eabs/revoke", eab.name, csrf) : ""}</td></tr>`;
})}</table></div>
<h2>New External Account Binding (ACME)</h2>
<form method="post" action="/ui/eabs" id="new-eab">${csrfField(csrf)}<div class="grid">
<label>Name <input name="name" required pattern="[A-Za-z0-9._@-]+"></label>
<label>DNS patterns <input name="dns" placeholder="*.lan"></label>
<label>IP addresses or CIDRs <input name="ip"></label>
<label>Max validity <input name="maxValidity" placeholder="30d"></label>
<label>Accounts <input name="accounts" inputmode="numeric" placeholder="1"></label></div>
<button type="submit">Create EAB</button></form>`;
  return bare ? body : page("EABs (ACME)", body, csrf);
}

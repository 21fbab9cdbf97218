import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** One small stylesheet, inline: no build step, no request of its own; readable on a phone. */
const CSS = `
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,sans-serif;color:#1b1f24;background:#f6f7f9}
header{background:#1f3a5f;color:#fff;padding:.6em 1em;display:flex;flex-wrap:wrap;gap:.4em 1.2em;align-items:center}
header a{color:#fff;text-decoration:none}header b{margin-right:auto}header form{margin:0}
header button{background:none;border:1px solid #fff8;color:#fff;padding:.2em .7em;border-radius:4px}
main{max-width:1100px;margin:0 auto;padding:1em}h1{font-size:1.35em;margin:.2em 0 .6em}h2{font-size:1.1em;margin:1.2em 0 .4em}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(9em,1fr));gap:.6em}
.card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.6em .8em;color:inherit;text-decoration:none}.card b{display:block;font-size:1.6em}
table{width:100%;border-collapse:collapse;background:#fff;font-size:.93em}th,td{text-align:left;padding:.35em .5em;border-bottom:1px solid #e3e6ea;vertical-align:top}
.wrap{overflow-x:auto}code,.mono{font-family:ui-monospace,monospace;font-size:.9em;word-break:break-all}
form.inline{display:inline}input,select,button,textarea{font:inherit;padding:.35em .5em;border:1px solid #b8c0c8;border-radius:4px}
button{background:#1f3a5f;color:#fff;border-color:#1f3a5f;cursor:pointer}button.danger{background:#b42318;border-color:#b42318}
label{display:block;margin:.4em 0}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(14em,1fr));gap:.2em 1em}
.note{background:#fff8e1;border:1px solid #f0d78c;padding:.6em .8em;border-radius:6px}.error{background:#fde8e8;border-color:#f3b4b4}
.ok{background:#e7f6ec;border-color:#a6d8b5}.muted{color:#5b6470}svg{width:100%;height:auto;background:#fff;border:1px solid #dde1e6;border-radius:6px}
.state-valid{color:#137333}.state-expired,.state-revoked{color:#b42318}.state-superseded{color:#5b6470}
pre{background:#fff;border:1px solid #dde1e6;padding:.6em;overflow-x:auto;font-size:.8em}
`;

/** Headers of every dashboard page: no caching (a token's secret is shown once), no framing, no scripts. */
export const PAGE_HEADERS = {
  "cache-control": "no-store",
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  "x-content-type-options": "nosniff",
};

/** A whole page; with a CSRF token (a session) it carries the menu and the logout form. */
export function page(title: string, body: Html, csrf?: string): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · certyard</title><style>${raw(CSS)}</style></head>
<body>${csrf === undefined ? html`<header><b>certyard</b></header>` : menu(csrf)}<main><h1>${title}</h1>${body}</main></body></html>`;
}

function menu(csrf: string): Html {
  return html`<header><b><a href="/ui/">certyard</a></b>
<a href="/ui/">Overview</a><a href="/ui/certificates">Certificates</a><a href="/ui/hosts">Hosts</a><a href="/ui/tokens">Tokens</a><a href="/ui/eabs">EABs</a><a href="/ui/audit">Audit</a>
<form method="post" action="/ui/logout">${csrfField(csrf)}<button type="submit">Log out</button></form></header>`;
}

export const csrfField = (csrf: string) => html`<input type="hidden" name="csrf" value="${csrf}">`;

/** A time as people read it in a table: UTC, to the minute. */
export const when = (ms: number | null) =>
  ms === null ? "—" : `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;

/** How far `ms` lies from `now`, in days or hours, for "expires in". */
export function inDays(ms: number, now: number): string {
  const d = (ms - now) / 86_400_000;
  if (Math.abs(d) < 2) return `${Math.round((ms - now) / 3_600_000)} h`;
  return `${Math.round(d)} d`;
}

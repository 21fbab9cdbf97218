import type { Context, ErrorHandler } from "hono";
import { html } from "hono/html";
import type { Logger } from "pino";
import { problemHeaders, type StorageFaults, toProblem } from "../middleware/problems.js";
import type { UiEnv } from "./deps.js";
import { PAGE_HEADERS, page } from "./layout.js";

/** Whether the client asked for a page (a browser) rather than JSON. */
export const wantsHtml = (c: Context) => /\btext\/html\b/.test(c.req.header("accept") ?? "");

/**
 * The dashboard's errors: the same problems as the API's (toProblem), as a page for a browser
 * and as application/problem+json for anything else.
 */
export function uiOnError(log: Logger, storage: StorageFaults): ErrorHandler<UiEnv> {
  return (err, c) => {
    const p = toProblem(err, log, c.req.path, storage);
    if (!wantsHtml(c)) return c.body(JSON.stringify(p.toJSON()), p.status as 400, problemHeaders(p));
    const headers: Record<string, string> = { ...PAGE_HEADERS };
    if (p.retryAfter !== undefined) headers["retry-after"] = String(p.retryAfter);
    const body = html`<p class="note error">${p.message}</p><p><a href="/ui/">Back to the overview</a></p>`;
    return c.html(page(`${p.status} ${p.toJSON().title}`, body), p.status as 400, headers);
  };
}

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { forbidden, Problem, unauthorized } from "../../../../shared/problem.js";
import { dashboardEvent } from "../../core/audit.js";
import { tokenRefusal } from "../../core/tokens.js";
import { clientAddress } from "../context.js";
import type { DashboardDeps, UiEnv, UiSession } from "./deps.js";

/** The session cookie; Path=/ui so that no API request carries it. */
export const SESSION_COOKIE = "cy_session";
/** Before login: the double-submit value the login form's CSRF token is made from. */
export const LOGIN_COOKIE = "cy_login";

/** A session ends after this long without a request... */
export const SESSION_IDLE_MS = 2 * 3_600_000;
/** ...and this long after login, whatever happens. */
export const SESSION_ABSOLUTE_MS = 12 * 3_600_000;
/** lastSeen is written at most this often (a page load is not a write each time). */
const TOUCH_EVERY_MS = 60_000;

const COOKIE_FLAGS = { path: "/ui", httpOnly: true, secure: true, sameSite: "Strict" } as const;

export const hashOf = (secret: string) => createHash("sha256").update(secret).digest("hex");

/** The CSRF token of a session or login cookie: derived from its secret, so nothing more is stored. */
export const csrfOf = (secret: string) =>
  createHash("sha256").update(`certyard-ui-csrf\0${secret}`).digest("base64url");

export function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A new random secret for a cookie: 256 bits. */
export const newSecret = () => randomBytes(32).toString("base64url");

/** Starts a session for the admin token `adminTokenId`; the cookie carries the secret, the database its hash. */
export async function startSession(c: Context<UiEnv>, deps: DashboardDeps, adminTokenId: string) {
  const secret = newSecret();
  const now = deps.clock();
  const idHash = hashOf(secret);
  await deps.ui.sessions.create({
    idHash,
    adminTokenId,
    createdAt: now,
    lastSeen: now,
    expiresAt: now + SESSION_ABSOLUTE_MS,
  });
  await deps.ui.audit(dashboardEvent("dashboard.login", idHash, clientAddress(c.env), now));
  setCookie(c, SESSION_COOKIE, secret, { ...COOKIE_FLAGS, maxAge: SESSION_ABSOLUTE_MS / 1000 });
  deleteCookie(c, LOGIN_COOKIE, COOKIE_FLAGS);
}

/** Ends the request's session, in the database and in the browser. */
export async function endSession(c: Context<UiEnv>, deps: DashboardDeps) {
  const secret = getCookie(c, SESSION_COOKIE);
  if (secret) {
    const idHash = hashOf(secret);
    // only a session that was there is logged out (not a stale cookie)
    if (await deps.ui.sessions.find(idHash)) {
      await deps.ui.sessions.remove(idHash);
      await deps.ui.audit(dashboardEvent("dashboard.logout", idHash, clientAddress(c.env), deps.clock()));
    }
  }
  deleteCookie(c, SESSION_COOKIE, COOKIE_FLAGS);
}

/** The login form's CSRF token, setting the cookie it is checked against when there is none. */
export function loginCsrf(c: Context<UiEnv>): string {
  let secret = getCookie(c, LOGIN_COOKIE);
  if (!secret || !/^[A-Za-z0-9_-]{43}$/.test(secret)) {
    secret = newSecret();
    setCookie(c, LOGIN_COOKIE, secret, { ...COOKIE_FLAGS, maxAge: 3600 });
  }
  return csrfOf(secret);
}

/** The session of this request, or null when it has none, or it has ended (it is then deleted). */
async function currentSession(c: Context<UiEnv>, deps: DashboardDeps): Promise<UiSession | null> {
  const secret = getCookie(c, SESSION_COOKIE);
  if (!secret) return null;
  const idHash = hashOf(secret);
  const rec = await deps.ui.sessions.find(idHash);
  if (!rec) return null;
  const now = deps.clock();
  const ended =
    rec.expiresAt <= now ||
    rec.lastSeen + SESSION_IDLE_MS <= now ||
    // a new admin token (a reset) ends the sessions the old one opened
    tokenRefusal(await deps.tokenState(rec.adminTokenId), "admin", now) !== null;
  if (ended) {
    await deps.ui.sessions.remove(idHash);
    return null;
  }
  if (now - rec.lastSeen >= TOUCH_EVERY_MS) await deps.ui.sessions.touch(idHash, now);
  return { idHash, csrf: csrfOf(secret) };
}

/**
 * Every page but login needs a session: without one a GET goes to the login form, anything
 * else is refused. Every POST must come from this origin and carry the session's CSRF token.
 */
export function requireSession(deps: DashboardDeps): MiddlewareHandler<UiEnv> {
  return async (c, next) => {
    const session = await currentSession(c, deps);
    if (!session) {
      if (c.req.method === "GET" || c.req.method === "HEAD") {
        deleteCookie(c, SESSION_COOKIE, COOKIE_FLAGS);
        return c.redirect("/ui/login", 303);
      }
      throw unauthorized("no dashboard session: log in at /ui/login");
    }
    c.set("session", session);
    if (c.req.method === "POST") await checkPost(c, session.csrf);
    await next();
  };
}

/**
 * The checks every POST form gets: the browser says it comes from this very origin (Origin,
 * and Sec-Fetch-Site where it is sent), and the form's csrf field is the token of this session.
 * Returns the form.
 */
export async function checkPost(c: Context<UiEnv>, expected: string): Promise<Record<string, string>> {
  const origin = c.req.header("origin");
  const host = c.req.header("host");
  if (origin !== undefined && origin !== `https://${host}`)
    throw forbidden(`a form from ${origin} is refused`);
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined && site !== "same-origin" && site !== "none")
    throw forbidden(`a form from a ${site} page is refused`);
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/x-www-form-urlencoded\b/i.test(type))
    throw new Problem("unsupportedMediaType", "the dashboard's forms are application/x-www-form-urlencoded");
  const form = await formOf(c);
  if (!sameText(form.csrf ?? "", expected))
    throw forbidden("the form's CSRF token is missing or wrong: reload the page");
  return form;
}

/** The form of this request, its fields as text (a repeated field: its last value). */
export async function formOf(c: Context<UiEnv>): Promise<Record<string, string>> {
  const cached = formCache.get(c.req.raw);
  if (cached) return cached;
  const body = await c.req.parseBody();
  const form: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) {
    const value = Array.isArray(v) ? v.at(-1) : v;
    if (typeof value === "string") form[k] = value;
  }
  formCache.set(c.req.raw, form);
  return form;
}
const formCache = new WeakMap<Request, Record<string, string>>();

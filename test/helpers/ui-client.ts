import type { HttpResult, TestCa } from "./ca.js";

/**
 * A browser's share of the dashboard for tests over real HTTPS: it keeps the cookies the CA sets
 * (path /ui), sends forms as a browser does (urlencoded, with Origin), and reads CSRF tokens
 * from the pages.
 */
export class UiClient {
  readonly cookies = new Map<string, string>();
  /** the Origin header sent with forms; undefined sends none */
  origin: string | undefined;

  constructor(private readonly ca: TestCa) {
    this.origin = `https://127.0.0.1:${ca.port}`;
  }

  async get(path: string): Promise<HttpResult> {
    return this.keep(await this.ca.request(path, { headers: this.headers({ accept: "text/html" }) }));
  }

  async post(
    path: string,
    fields: Record<string, string>,
    extra: Record<string, string> = {},
  ): Promise<HttpResult> {
    const headers = this.headers({
      accept: "text/html",
      "content-type": "application/x-www-form-urlencoded",
      ...extra,
    });
    if (this.origin !== undefined && !("origin" in extra)) headers.origin = this.origin;
    const res = await this.ca.request(path, {
      method: "POST",
      raw: new URLSearchParams(fields).toString(),
      headers,
    });
    return this.keep(res);
  }

  /** GET the login form, then POST the token with its CSRF token. */
  async login(token: string): Promise<HttpResult> {
    const form = await this.get("/ui/login");
    return this.post("/ui/login", { token, csrf: csrfIn(form) });
  }

  /** The CSRF token of the page at `path` (any page with a form). */
  async csrf(path = "/ui/tokens"): Promise<string> {
    return csrfIn(await this.get(path));
  }

  private headers(h: Record<string, string>): Record<string, string> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    return cookie ? { ...h, cookie } : h;
  }

  private keep(res: HttpResult): HttpResult {
    for (const line of setCookies(res)) {
      const [pair] = line.split(";");
      const eq = pair?.indexOf("=") ?? -1;
      if (!pair || eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === "" || /max-age=0\b/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }
}

export function setCookies(res: HttpResult): string[] {
  const h = res.headers["set-cookie"];
  return h === undefined ? [] : Array.isArray(h) ? h : [h];
}

export function csrfIn(res: HttpResult): string {
  const m = /name="csrf" value="([^"]+)"/.exec(res.body.toString());
  if (!m?.[1])
    throw new Error(`no CSRF token in the page (${res.status}): ${res.body.toString().slice(0, 300)}`);
  return m[1];
}

import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import type { Identifier } from "../../../../shared/acme/types.js";
import { connectionProblem, incorrectResponse, type Problem } from "../../../../shared/problem.js";
import type { AddressPolicy } from "./addresses.js";
import type { NameResolver } from "./resolve.js";

const MAX_BODY = 8192;
/** idle time allowed on one connection */
const SOCKET_TIMEOUT_MS = 5000;
/** the whole fetch, every redirect included: a redirect does not buy more time */
const DEADLINE_MS = 10_000;
/** as Let's Encrypt's VA */
const MAX_REDIRECTS = 10;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface Http01Options {
  /** where http: URLs connect: the initial one and any redirect to http: */
  httpPort: number;
  /** a redirect to https: may go to this port or to 443 */
  tlsPort: number;
  /** how a redirect's host name is turned into an address, the same as for the identifier */
  resolver: Pick<NameResolver, "addresses">;
  /** where a redirect may lead (addresses.ts) */
  mayConnect: AddressPolicy;
}

/**
 * A validation failure: the client reads a detail from a fixed vocabulary, never what the
 * target answered (status, body, Location, socket error), which would make validation a port
 * and service scanner; `why` goes to the CA's log only.
 */
export function failure(problem: Problem, why: string): Problem {
  return Object.assign(problem, { cause: why });
}

/**
 * RFC 8555 8.3 http-01: GET http://NAME:PORT/.well-known/acme-challenge/TOKEN must answer 200
 * with the key authorization (surrounding whitespace allowed). "The server SHOULD follow
 * redirects": up to MAX_REDIRECTS, to http: on the http port or https: on the tls port or 443.
 * An https: target's certificate is not checked (nor is it by Let's Encrypt). Every address a
 * redirect leads to is checked against opts.mayConnect, and the connection goes to that very
 * address (a name is not resolved again, so DNS rebinding cannot slip past the check).
 */
export async function http01(
  identifier: Identifier,
  address: string,
  opts: Http01Options,
  token: string,
  keyAuthorization: string,
): Promise<void> {
  const hostName =
    identifier.type === "ip" && identifier.value.includes(":") ? `[${identifier.value}]` : identifier.value;
  let url = new URL(`http://${hostName}:${opts.httpPort}/.well-known/acme-challenge/${token}`);
  let target = address;
  const deadline = Date.now() + DEADLINE_MS;
  const visited = new Set([url.href]);
  for (let redirects = 0; ; redirects++) {
    const res = await get(url, target, deadline);
    if (!REDIRECT_STATUSES.has(res.status)) {
      if (res.status !== 200)
        throw failure(incorrectResponse("unexpected status"), `${url} answered ${res.status}`);
      if (res.body.trim() !== keyAuthorization) {
        throw failure(
          incorrectResponse("the response is not the key authorization"),
          `${url} did not return the key authorization`,
        );
      }
      return;
    }
    if (redirects === MAX_REDIRECTS) {
      throw failure(
        connectionProblem("too many redirects"),
        `${url} redirected again after ${MAX_REDIRECTS}`,
      );
    }
    const next = redirectTarget(url, res.status, res.location, opts);
    if (visited.has(next.href))
      throw failure(connectionProblem("redirect loop"), `${url} redirected back to ${next}`);
    visited.add(next.href);
    target = await addressOf(next, opts);
    url = next;
  }
}

/** The URL a redirect leads to, if validation may follow it. */
function redirectTarget(from: URL, status: number, location: string | undefined, opts: Http01Options): URL {
  const bad = (why: string) => failure(connectionProblem("redirect to a disallowed URL"), why);
  if (!location)
    throw failure(incorrectResponse("redirect without a Location"), `${from} answered ${status}`);
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw bad(`${from} redirected to "${location}", which is not a URL`);
  }
  next.hash = "";
  // RFC 8555 8.3: redirects are followed to http: or https:, on the ports validation uses
  if (next.protocol !== "http:" && next.protocol !== "https:") {
    throw bad(`${from} redirected to ${next}: only http: and https: redirects are followed`);
  }
  const port = portOf(next);
  const allowed = next.protocol === "http:" ? [opts.httpPort] : [...new Set([opts.tlsPort, 443])];
  if (!allowed.includes(port)) {
    throw bad(`${from} redirected to ${next}: port ${port} is not followed for ${next.protocol}`);
  }
  return next;
}

const portOf = (url: URL) => Number(url.port) || (url.protocol === "https:" ? 443 : 80);

/**
 * The address a redirect connects to: an IP literal as it is, a name resolved as the identifier
 * was; every address the name has must be allowed, and the first is used.
 */
async function addressOf(url: URL, opts: Http01Options): Promise<string> {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const addresses = isIP(host) ? [host] : await opts.resolver.addresses({ type: "dns", value: host });
  const refused = addresses.find((a) => !opts.mayConnect(a));
  if (refused !== undefined)
    throw failure(connectionProblem("redirect to a disallowed address"), `${url} is at ${refused}`);
  const [first] = addresses;
  if (!first) throw failure(connectionProblem("redirect to a name without an address"), `${url}`);
  return first;
}

interface Answer {
  status: number;
  location: string | undefined;
  body: string;
}

/** One GET of `url` from `address`; a redirect's body is not read. */
function get(url: URL, address: string, deadline: number): Promise<Answer> {
  const left = deadline - Date.now();
  if (left <= 0) return Promise.reject(failure(connectionProblem("timed out"), `before fetching ${url}`));
  const https = url.protocol === "https:";
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const onResponse = (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (REDIRECT_STATUSES.has(status)) {
        resolve({ status, location: res.headers.location, body: "" });
        res.destroy();
        return;
      }
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
        if (body.length > MAX_BODY) res.destroy();
      });
      res.on("close", () => {
        if (timedOut) reject(failure(connectionProblem("timed out"), `reading ${url} from ${address}`));
        else resolve({ status, location: undefined, body });
      });
    };
    const options = {
      host: address,
      port: portOf(url),
      path: `${url.pathname}${url.search}`,
      headers: { host: url.host, "user-agent": "certyard-acme-va" },
      timeout: Math.min(SOCKET_TIMEOUT_MS, left),
      // a fresh connection for each validation, not one kept alive from another
      agent: false,
    };
    const req = https
      ? httpsRequest(
          { ...options, servername: isIP(host) ? "" : host, rejectUnauthorized: false },
          onResponse,
        )
      : httpRequest(options, onResponse);
    const timeOut = () => {
      timedOut = true;
      req.destroy(new Error("timed out"));
    };
    const timer = setTimeout(timeOut, left);
    req.on("timeout", timeOut);
    req.on("error", (e) =>
      reject(
        timedOut
          ? failure(connectionProblem("timed out"), `fetching ${url} from ${address}`)
          : failure(connectionProblem("connection failed"), `${url} from ${address}: ${e.message}`),
      ),
    );
    req.on("close", () => clearTimeout(timer));
    req.end();
  });
}

import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { Readable } from "node:stream";

/** What the TLS of one server is checked against, and what the client presents. */
export interface TlsTrust {
  /** PEM: the only CA trusted for the server's certificate; node's bundled store when absent */
  ca?: string;
  /** PEM: a client certificate chain and its key, for mutual TLS */
  cert?: string;
  key?: string;
  /** false only for first contact, before anything is trusted (the root is then pinned by hash) */
  rejectUnauthorized?: boolean;
}

export interface TlsFetch {
  fetch: typeof globalThis.fetch;
  /** Closes the connections kept alive for this server. */
  close(): void;
}

/**
 * A `fetch` for ofetch's `createFetch({ fetch })` over node's own http/https modules, so a
 * client can pin a CA or present a certificate per server without a second HTTP stack beside
 * ofetch (node's global fetch takes TLS options only through the undici package's dispatcher).
 * Redirects are not followed: neither our CA nor an ACME server sends one, so one is refused
 * with the place it pointed to.
 */
export function tlsFetch(trust: TlsTrust = {}): TlsFetch {
  const https = new HttpsAgent({ keepAlive: true, ...trust });
  const http = new HttpAgent({ keepAlive: true });

  const fetch = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      return Promise.reject(new TypeError(`fetch failed: unsupported protocol ${url.protocol}`));
    }
    const method = (init.method ?? "GET").toUpperCase();
    const headers = new Headers(init.headers);
    let body: Buffer | undefined;
    try {
      body = bodyBytes(init.body);
    } catch (err) {
      return Promise.reject(err);
    }
    if (body) headers.set("content-length", String(body.length));
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const signal = init.signal ?? undefined;

    return new Promise<Response>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const req = send(url, {
        method,
        agent: url.protocol === "https:" ? https : http,
        headers: Object.fromEntries(headers),
      });
      const onAbort = () => req.destroy(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      req.on("error", (err) => {
        signal?.removeEventListener("abort", onAbort);
        // The shape of undici's network errors, which callers unwrap for the reason.
        reject(signal?.aborted ? signal.reason : new TypeError("fetch failed", { cause: err }));
      });
      req.on("response", (res) => {
        res.on("end", () => signal?.removeEventListener("abort", onAbort));
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          const cause = new Error(`redirected to ${res.headers.location} (redirects are not followed)`);
          reject(new TypeError("fetch failed", { cause }));
          return;
        }
        resolve(toResponse(res, method));
      });
      req.end(body);
    });
  };

  return {
    fetch: fetch as typeof globalThis.fetch,
    close: () => {
      https.destroy();
      http.destroy();
    },
  };
}

function bodyBytes(body: RequestInit["body"]): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  throw new TypeError("fetch failed: only string and byte bodies are sent");
}

function toResponse(res: IncomingMessage, method: string): Response {
  const headers = new Headers();
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    headers.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
  }
  const status = res.statusCode ?? 0;
  const empty = method === "HEAD" || status === 204 || status === 205 || status === 304;
  if (empty) res.resume();
  const body = empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
  return new Response(body, { status, statusText: res.statusMessage ?? "", headers });
}

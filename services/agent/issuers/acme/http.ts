import { createFetch, FetchError, type FetchOptions, type FetchResponse } from "ofetch";
import { ACME_ERROR_NS, type AcmeProblemDocument } from "../../../../shared/problem.js";
import { fetchFailureReason, ServerError } from "../fetch-error.js";
import { tlsFetch } from "../tls-fetch.js";
import type { AccountKey } from "./jws.js";
import { signRequest } from "./jws.js";

/** RFC 8555 6.7, as it arrives: nothing in it is relied on to be there. */
export type ReceivedProblem = Partial<AcmeProblemDocument>;

/** How many times a request refused with badNonce is sent again with a fresh nonce (as lego). */
const BAD_NONCE_RETRIES = 5;

/** An error from the ACME server, carrying its problem document when it sent one. */
export class AcmeError extends ServerError<ReceivedProblem> {
  override readonly name = "AcmeError";
}

export function toAcmeError(what: string, err: unknown): AcmeError {
  if (err instanceof AcmeError) return err;
  if (err instanceof FetchError) {
    const data = err.data as ReceivedProblem | undefined;
    if (err.status && data && typeof data === "object" && (data.detail || data.type)) {
      const type = data.type?.replace(ACME_ERROR_NS, "") ?? "error";
      return new AcmeError(`${what}: ${type}: ${data.detail ?? ""} (${err.status})`, err.status, data, {
        cause: err,
      });
    }
    return new AcmeError(`${what}: ${fetchFailureReason(err)}`, err.status, undefined, { cause: err });
  }
  return new AcmeError(`${what}: ${err instanceof Error ? err.message : String(err)}`, undefined, undefined, {
    cause: err,
  });
}

export interface AcmeHttpOptions {
  /** PEM: the only CA trusted for the ACME server's own TLS; else the system store */
  caPem?: string;
  /** injected for tests; otherwise node's http/https with `caPem` pinned (see tls-fetch.ts) */
  fetch?: typeof globalThis.fetch;
  timeoutMs?: number;
}

/** The transport: ofetch over the given fetch, or over one that trusts only `caPem` when set. */
export function acmeFetch(o: AcmeHttpOptions = {}) {
  const transport = o.fetch ? { fetch: o.fetch, close() {} } : tlsFetch(o.caPem ? { ca: o.caPem } : {});
  const $fetch = createFetch({ fetch: transport.fetch }).create({
    retry: 0,
    timeout: o.timeoutMs ?? 30_000,
  });
  return {
    $fetch,
    close: async () => transport.close(),
  };
}
export type AcmeFetch = ReturnType<typeof acmeFetch>["$fetch"];

export interface SignedResponse<T> {
  status: number;
  headers: Headers;
  data: T;
}

/**
 * Signed POSTs for one account key. Keeps the last Replay-Nonce (RFC 8555 7.2) so a request
 * needs no extra round trip; a request refused with badNonce (6.5) is signed again with the
 * nonce that came with the refusal (or a fresh one from newNonce), up to BAD_NONCE_RETRIES times.
 */
export class AcmeSession {
  private nonce: string | undefined;
  kid: string | undefined;

  constructor(
    readonly $fetch: AcmeFetch,
    readonly newNonceUrl: string,
    readonly key: AccountKey,
  ) {}

  private keep(headers: Headers | undefined): void {
    const n = headers?.get("replay-nonce");
    if (n) this.nonce = n;
  }

  /** RFC 8555 7.2: HEAD newNonce. */
  async freshNonce(): Promise<string> {
    try {
      const res = await this.$fetch.raw(this.newNonceUrl, { method: "HEAD" });
      const n = res.headers.get("replay-nonce");
      if (!n) throw new Error("no Replay-Nonce header");
      return n;
    } catch (err) {
      throw toAcmeError("cannot get a nonce", err);
    }
  }

  async post<T>(
    what: string,
    url: string,
    payload: unknown,
    o: { accept?: string; text?: boolean } = {},
  ): Promise<SignedResponse<T>> {
    for (let attempt = 0; ; attempt++) {
      const nonce = this.nonce ?? (await this.freshNonce());
      this.nonce = undefined;
      const jws = await signRequest(this.key, { url, nonce, kid: this.kid, payload });
      try {
        const options = {
          method: "POST",
          headers: { "content-type": "application/jose+json", ...(o.accept ? { accept: o.accept } : {}) },
          body: JSON.stringify(jws),
          ...(o.text ? { responseType: "text" as const } : {}),
        };
        // ofetch types responseType per call; the text download is the only non-JSON one.
        const res: FetchResponse<T> = await this.$fetch.raw<T>(url, options as FetchOptions<"json">);
        this.keep(res.headers);
        return { status: res.status, headers: res.headers, data: res._data as T };
      } catch (err) {
        if (err instanceof FetchError) this.keep(err.response?.headers);
        const e = toAcmeError(what, err);
        // RFC 8555 6.5: "clients SHOULD retry" a badNonce with the nonce that came with it;
        // servers may refuse nonces at random (pebble: 5% by default), so once is not enough
        if (attempt < BAD_NONCE_RETRIES && e.problem?.type === `${ACME_ERROR_NS}badNonce`) continue;
        throw e;
      }
    }
  }
}
